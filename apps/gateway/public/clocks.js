/* Vector clocks as the page shows and compares them. */
import { state } from './state.js';

export const compact = (clock) => `[${state.members.map((id) => clock[id] ?? 0).join(',')}]`;

export const full = (clock) => state.members.map((id) => `${id}: ${clock[id] ?? 0}`).join(', ');

/** How clock a relates to clock b: before, after, equal or concurrent. */
export function relation(a, b) {
  let less = false;
  let more = false;
  for (const id of state.members) {
    if ((a[id] ?? 0) < (b[id] ?? 0)) less = true;
    if ((a[id] ?? 0) > (b[id] ?? 0)) more = true;
  }
  if (less && more) return 'conc';
  if (less) return 'before';
  if (more) return 'after';
  return 'sel';
}
