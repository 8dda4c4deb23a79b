// The shell's shared helpers: announcements for screen readers, the error banner and the
// confirmation dialog.

export function announce(msg) {
  const el = document.getElementById('announce');
  el.textContent = '';
  setTimeout(() => { el.textContent = msg; }, 50);
}

export function showError(e) {
  if (e && e.name === 'AbortError') return;
  const el = document.getElementById('alert');
  el.textContent = e instanceof Error ? e.message : String(e);
  el.hidden = false;
}

export function clearError() {
  const el = document.getElementById('alert');
  el.hidden = true;
  el.textContent = '';
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
