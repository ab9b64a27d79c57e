// Refreshes the task table every 2 s from the API; starts and cancels tasks.
const API = "/api/v1/async-collection";
// Writes carry the dashboard session's CSRF token (Flask-WTF checks it; SECURITY.md).
const CSRF = {"X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content};

function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

function row(task) {
  const total = task.total ?? "?";
  const cancel = ["pending", "running"].includes(task.status)
    ? `<button class="cancel" data-id="${task.id}">Cancel</button>` : "";
  return `<tr data-id="${task.id}">
    <td>${escapeHtml(task.created_at.replace("T", " ").slice(0, 19))}</td>
    <td>${escapeHtml(task.type)}</td>
    <td class="status ${escapeHtml(task.status)}">${escapeHtml(task.status)}</td>
    <td><progress max="${task.total || 1}" value="${task.progress}"></progress> ${Math.round(task.progress * 10) / 10}/${total}</td>
    <td>${escapeHtml(task.current_step)}</td>
    <td><pre>${escapeHtml(task.logs.slice(-3).join("\n"))}</pre></td>
    <td>${cancel}</td></tr>`;
}

async function refresh() {
  try {
    const [tasks, summary] = await Promise.all([
      fetch(`${API}/tasks?per_page=25`).then(r => r.json()),
      fetch(`${API}/status/summary`).then(r => r.json()),
    ]);
    document.querySelector("#tasks tbody").innerHTML = tasks.data.map(row).join("");
    document.getElementById("summary").textContent =
      `${summary.total_tasks} tasks: ${summary.pending} pending, ${summary.running} running, ` +
      `${summary.completed} completed, ${summary.failed} failed, ${summary.cancelled} cancelled`;
  } catch (error) {
    console.warn("refresh failed", error);
  }
}

document.addEventListener("click", async event => {
  if (!event.target.matches("button.cancel")) return;
  event.target.disabled = true;
  await fetch(`${API}/task/${event.target.dataset.id}`, {method: "DELETE", headers: CSRF});
  refresh();
});

document.querySelectorAll("form.start-form").forEach(form => form.addEventListener("submit", async event => {
  event.preventDefault();
  const body = {};
  form.querySelectorAll("[name]").forEach(input => {
    const type = input.dataset.type;
    if (type === "boolean") { body[input.name] = input.checked; return; }
    if (input.multiple) { const v = [...input.selectedOptions].map(o => o.value); if (v.length) body[input.name] = v; return; }
    if (input.value === "") return;
    body[input.name] = (type === "integer" || type === "number") ? Number(input.value) : input.value;
  });
  const response = await fetch(`${API}/${form.dataset.source}/start`, {
    method: "POST", headers: {"Content-Type": "application/json", ...CSRF}, body: JSON.stringify(body)});
  const answer = await response.json();
  form.querySelector(".result").textContent = response.ok ? `started ${answer.task_id}` : answer.message;
  refresh();
}));

setInterval(refresh, 2000);
