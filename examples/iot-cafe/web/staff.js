/* global location, history, sessionStorage */
// The staff token: from the link `#staff=…` (npm run cafe prints it) or typed once; kept for the tab.
export function staffToken() {
  const m = /staff=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('cafe-staff', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('cafe-staff') || '';
}

export function askForToken(box, input, button, onSaved) {
  box.hidden = false;
  button.onclick = () => { sessionStorage.setItem('cafe-staff', input.value.trim()); box.hidden = true; onSaved(); };
}

export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
