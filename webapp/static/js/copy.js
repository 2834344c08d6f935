// "Salin ringkasan": copy a text field to the clipboard. Plain HTTP on the office LAN has no
// Clipboard API (it needs a secure context), so fall back to selecting the text and execCommand.
document.addEventListener('click', function (event) {
  var button = event.target.closest('[data-copy-target]');
  if (!button) { return; }
  var field = document.querySelector(button.getAttribute('data-copy-target'));
  var status = button.parentElement.querySelector('.copy-status');
  function report(ok) {
    if (status) {
      status.textContent = ok ? 'Tersalin. Tempel di WhatsApp.'
        : 'Tidak bisa menyalin otomatis: pilih teks di atas lalu salin.';
    }
  }
  function fallback() {
    field.focus();
    field.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    report(ok);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () { report(true); }, fallback);
  } else {
    fallback();
  }
});
