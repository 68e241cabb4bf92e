/**
 * Renderings every client shares. The bus hands all subscribers the same event object, and a
 * printer's status is a new object each time the printer's Worker reports, so a rendering kept
 * per object is computed once per change, however many clients poll or listen — not once per
 * request or per SSE client (the HTTP thread then does next to nothing per poll).
 *
 * Example: `const text = renderOnce((e: object) => JSON.stringify(e)); text(e) === text(e)`.
 */
export function renderOnce<K extends object, V>(render: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, V>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = render(key);
      cache.set(key, value);
    }
    return value;
  };
}

/**
 * A rendering of a printer session kept per status object (the printer's Worker sends a new one
 * with every report) and remade when the session's record (name, port…) changed since.
 */
export function renderPerStatus<T extends { status: object; record: unknown }, V>(render: (session: T) => V): (session: T) => V {
  const cache = new WeakMap<object, { record: unknown; value: V }>();
  return (session) => {
    const cached = cache.get(session.status);
    if (cached && cached.record === session.record) return cached.value;
    const value = render(session);
    cache.set(session.status, { record: session.record, value });
    return value;
  };
}
