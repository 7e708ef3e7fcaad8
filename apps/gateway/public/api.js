/* REST calls, and the operator token (GATEWAY_ADMIN_TOKEN): asked for once, kept for the tab. */
const TOKEN_KEY = 'causal-chat.operator-token';

let asking = null;

export function askForToken(refused) {
  // Controls that fail together (a partition is four requests) share one question.
  asking ??= new Promise((resolve) => {
    const token = window.prompt(
      refused
        ? 'That operator token was refused. Operator token (GATEWAY_ADMIN_TOKEN):'
        : 'This control needs the operator token (GATEWAY_ADMIN_TOKEN):',
    );
    if (token && token.trim()) sessionStorage.setItem(TOKEN_KEY, token.trim());
    resolve(Boolean(token && token.trim()));
    setTimeout(() => (asking = null), 0);
  });
  return asking;
}

function request(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = body ? { 'content-type': 'application/json' } : {};
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
}

/**
 * A REST call. An operator endpoint that answers 401/403 makes the page ask for the token
 * and try once more, unless `ask` is false (background refreshes never interrupt anyone).
 */
export async function api(method, path, body, { ask = true } = {}) {
  const sentWith = sessionStorage.getItem(TOKEN_KEY);
  let response = await request(method, path, body);
  if (ask && (response.status === 401 || response.status === 403)) {
    // A token stored while this request was out (another control asked) is tried first.
    const stored = sessionStorage.getItem(TOKEN_KEY);
    if (stored && stored !== sentWith) response = await request(method, path, body);
    else {
      if (response.status === 403) sessionStorage.removeItem(TOKEN_KEY);
      if (await askForToken(response.status === 403)) response = await request(method, path, body);
    }
  }
  const data = await response.json().catch(() => null);
  if (!response.ok)
    throw Object.assign(
      new Error(data && data.message ? [].concat(data.message).join('; ') : response.statusText),
      { status: response.status },
    );
  return data;
}
