// Read tokens for the dashboard. When the gateway has READ_TOKENS set, its data
// needs `Authorization: Bearer <token>`: this script, loaded before the others,
// asks for the token when the gateway first refuses a read (WWW-Authenticate
// with scope="read"), keeps it in localStorage, and adds it to the page's own
// requests: a header on fetch, and `?token=` on EventSource, which cannot send
// headers. The rest of the page knows nothing of it. Without READ_TOKENS
// nothing is ever refused, so nothing is asked.
(() => {
  const KEY = 'loadstar.readToken';
  const sameOrigin = (url) => new URL(url, location.href).origin === location.origin;
  const isReadRefusal = (res) =>
    res.status === 401 && /scope="read"/.test(res.headers.get('www-authenticate') ?? '');

  // One question at a time, however many requests were refused together; a
  // cancelled question is not asked again until the page is reloaded.
  let asking = null;
  let declined = false;
  function askForToken(wrong) {
    if (declined) return Promise.resolve(null);
    asking ??= Promise.resolve()
      .then(() => {
        const given = prompt(
          wrong
            ? 'The read token was not accepted. Read token (one of READ_TOKENS):'
            : 'This gateway needs a read token (one of READ_TOKENS):',
        );
        if (!given?.trim()) {
          declined = true;
          localStorage.removeItem(KEY);
          return null;
        }
        localStorage.setItem(KEY, given.trim());
        return given.trim();
      })
      .finally(() => {
        asking = null;
      });
    return asking;
  }

  const pageFetch = window.fetch.bind(window);
  window.fetch = async (input, init = {}) => {
    const url = input instanceof Request ? input.url : String(input);
    const given = new Headers(init.headers ?? (input instanceof Request ? input.headers : {}));
    // A request carrying a token of its own (the API token of a POST) is its caller's business.
    if (!sameOrigin(url) || given.has('authorization')) return pageFetch(input, init);
    const attempt = (token) => {
      const headers = new Headers(given);
      if (token) headers.set('authorization', `Bearer ${token}`);
      return pageFetch(input, { ...init, headers });
    };
    let token = localStorage.getItem(KEY);
    let res = await attempt(token);
    for (let tries = 0; tries < 3 && isReadRefusal(res); tries++) {
      const stored = localStorage.getItem(KEY);
      // Another request may have been given a token while this one was on its way.
      token = stored && stored !== token ? stored : await askForToken(Boolean(token));
      if (!token) break;
      res = await attempt(token);
    }
    return res;
  };

  const PageEventSource = window.EventSource;
  window.EventSource = class extends PageEventSource {
    constructor(url, options) {
      const target = new URL(url, location.href);
      const token = localStorage.getItem(KEY);
      if (token && target.origin === location.origin) target.searchParams.set('token', token);
      super(target.href, options);
    }
  };
})();
