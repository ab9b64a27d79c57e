// The console's only script: a failed refresh or action shows a banner instead of failing silently
// (htmx does the rest: polling, swaps, the CSRF header from <body hx-headers>).
document.addEventListener("htmx:responseError", e => show(`${e.detail.xhr.status}: ${e.detail.xhr.responseText.slice(0, 200)}`));
document.addEventListener("htmx:sendError", () => show("The collector is not answering; retrying."));
document.addEventListener("htmx:afterRequest", e => { if (e.detail.successful) document.getElementById("banner").hidden = true; });
function show(text) { const banner = document.getElementById("banner"); banner.textContent = text; banner.hidden = false; }
