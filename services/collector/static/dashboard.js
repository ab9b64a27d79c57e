// The console's only script: a failed refresh or action shows a banner instead of failing silently
// (htmx does the rest: polling, swaps, the CSRF header from <body hx-headers>).
document.addEventListener("htmx:responseError", e => show(message(e.detail.xhr)));
document.addEventListener("htmx:sendError", () => show("The collector is not answering; retrying."));
document.addEventListener("htmx:afterRequest", e => { if (e.detail.successful) document.getElementById("banner").hidden = true; });
function message(xhr) { try { return JSON.parse(xhr.responseText).message; } catch { return `${xhr.status} ${xhr.statusText}`; } }
function show(text) { const banner = document.getElementById("banner"); banner.textContent = text; banner.hidden = false; }
