// Light or dark before the first paint (a classic script in the page's head):
// the choice kept in localStorage, else the system's prefers-color-scheme.
// It also asks for the fleet's summary right away when the page opens on the
// fleet, so the answer is on its way while the page's modules load.
(() => {
  const route = location.hash.slice(1).split('?')[0];
  if (route === '' || route === '/') {
    window.loadstarFirstSummary = fetch('api/v1/summary', {
      headers: { accept: 'application/json' },
    }).catch(() => null);
  }
  const media = matchMedia('(prefers-color-scheme: dark)');
  const apply = () => {
    const choice = localStorage.getItem('loadstar.theme');
    const dark = choice === 'dark' || (choice !== 'light' && media.matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  };
  apply();
  media.addEventListener('change', () => {
    apply();
    window.dispatchEvent(new Event('loadstar:theme'));
  });
  window.loadstarTheme = {
    apply,
    /** Flips light and dark; a choice equal to the system's is forgotten, so the page follows it again. */
    toggle() {
      const dark = document.documentElement.dataset.theme !== 'dark';
      if (dark === media.matches) localStorage.removeItem('loadstar.theme');
      else localStorage.setItem('loadstar.theme', dark ? 'dark' : 'light');
      apply();
      window.dispatchEvent(new Event('loadstar:theme'));
    },
  };
})();
