/* The causal checker's verdict, and where errors are shown. */
import { api } from './api.js';
import { $ } from './dom.js';

export async function refreshVerdict() {
  const verdict = $('#verdict');
  try {
    const report = await api('GET', '/cluster/consistency', undefined, { ask: false });
    verdict.textContent = report.ok
      ? `✓ causal order holds (${Object.values(report.counts).join('/')} delivered)`
      : `✗ ${report.verdict}`;
    verdict.className = `verdict ${report.ok ? 'ok' : 'bad'}`;
  } catch (error) {
    const locked = error.status === 401 || error.status === 403;
    verdict.textContent = locked
      ? '🔒 causal checker: operator only (click to enter the token)'
      : `checker unavailable: ${error.message}`;
    verdict.className = `verdict ${locked ? 'locked' : 'bad'}`;
  }
}

export function report(error) {
  const verdict = $('#verdict');
  verdict.textContent = error.message || String(error);
  verdict.className = 'verdict bad';
}
