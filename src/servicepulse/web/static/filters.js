// Filter forms (class "filters"): leave the empty fields out of the address, so that a
// shared or bookmarked link names only the filters chosen ("?channel=email&q=refund").
document.querySelectorAll("form.filters").forEach((form) => {
  form.addEventListener("submit", () => {
    form.querySelectorAll("input[name], select[name]").forEach((field) => {
      if (field.value === "") field.disabled = true;
    });
  });
});
// Going back to the page restores it from the cache with the fields still disabled.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form.filters [disabled]").forEach((field) => {
    field.disabled = false;
  });
});
