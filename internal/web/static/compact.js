// The wallet's offline QR code: ticking or unticking a field shows the new
// code and its character count at once (the form also works without
// script, by its button).
document.querySelectorAll('details.compact-form form').forEach((form) => {
  form.querySelectorAll('input[type="checkbox"]').forEach((box) => {
    box.addEventListener('change', () => form.requestSubmit());
  });
});
