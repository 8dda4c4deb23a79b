// The shell's shared helpers: announcements for screen readers, the error banner and the
// confirmation dialog.

export function announce(msg) {
  const el = document.getElementById('announce');
  el.textContent = '';
  setTimeout(() => { el.textContent = msg; }, 50);
}

let shownBy = null; // the poller whose error the banner shows (Context.every), else null

// showError shows e in the banner; from, when given, is the poller that failed, so that its
// next successful run can take the error down again (clearErrorFrom).
export function showError(e, from = null) {
  if (e && e.name === 'AbortError') return;
  const el = document.getElementById('alert');
  el.textContent = e instanceof Error ? e.message : String(e);
  el.hidden = false;
  shownBy = from;
}

export function clearError() {
  const el = document.getElementById('alert');
  el.hidden = true;
  el.textContent = '';
  shownBy = null;
}

// clearErrorFrom clears the banner when the error it shows came from the poller from: the
// failure is over once that poller succeeds. An error shown since by anything else stays.
export function clearErrorFrom(from) {
  if (shownBy !== null && shownBy === from) clearError();
}

// confirmAction asks before a change; resolves true when the user chose the action.
export function confirmAction(text, okLabel) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  const back = document.activeElement;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      if (back && back.focus) back.focus();
      resolve(dlg.returnValue === 'ok');
    }, { once: true });
    dlg.returnValue = 'cancel';
    dlg.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}
