// Progressive enhancement only: every form works without this file.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (button) {
    const source = document.getElementById(button.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(() => { button.textContent = "Copied"; });
    }
  }
  const confirmButton = event.target.closest("button[data-confirm-click]");
  if (confirmButton && !window.confirm(confirmButton.dataset.confirmClick)) event.preventDefault();
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  const all = event.target.closest("input.select-all");
  if (!all) return;
  for (const box of document.querySelectorAll("input." + all.dataset.target + ":not(:disabled)")) box.checked = all.checked;
});
