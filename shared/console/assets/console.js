// The web console's only script. Pages are rendered by the server; this
// sends the forms marked `data-action` to the Step Functions API (POST /,
// as any client does) and keeps an execution page live while it runs.
"use strict";

async function api(action, body) {
  const response = await fetch("/", {
    method: "POST",
    headers: { "X-Amz-Target": "AWSStepFunctions." + action, "Content-Type": "application/x-amz-json-1.0" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const kind = String(answer.__type || response.status).split("#").pop();
    throw new Error(kind + ": " + (answer.message || answer.Message || "request failed"));
  }
  return answer;
}

// A form's fields as the request body; a field marked `data-json` must hold
// JSON (it is sent as text, as the API takes it), an empty optional field is left out.
function body(form) {
  const out = {};
  for (const field of form.elements) {
    if (!field.name || (field.value === "" && !field.required)) continue;
    if (field.dataset.json !== undefined) JSON.parse(field.value);
    out[field.name] = field.value;
  }
  return out;
}

function say(form, text) {
  let p = form.querySelector(".error");
  if (!p) {
    p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    form.append(p);
  }
  p.textContent = text;
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.dataset.action) return;
  event.preventDefault();
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  try {
    const answer = await api(form.dataset.action, body(form));
    if (answer.executionArn && form.dataset.action === "StartExecution") {
      location.href = "/console/executions/" + encodeURIComponent(answer.executionArn);
    } else {
      location.reload();
    }
  } catch (e) {
    say(form, e instanceof SyntaxError ? "Not JSON: " + e.message : e.message);
    buttons.forEach((b) => (b.disabled = false));
  }
});

// While an execution runs: every second, redraw the graph and replace each
// `data-live` section with the server's fresh rendering of it.
const page = document.querySelector("main[data-status]");
let polls = 0;

async function refresh() {
  const graph = document.getElementById("graph");
  if (graph) graph.src = graph.dataset.src + "&t=" + Date.now();
  const response = await fetch(location.href, { cache: "no-store" });
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const section of document.querySelectorAll("[data-live]")) {
    const next = fresh.getElementById(section.id);
    // Unchanged sections stay, so a half-typed form is not lost.
    if (next && next.outerHTML !== section.outerHTML) section.replaceWith(document.importNode(next, true));
  }
  const main = fresh.querySelector("main[data-status]");
  if (main) page.dataset.status = main.dataset.status;
  page.dataset.polls = String(++polls);
}

async function live() {
  while (page && page.dataset.status === "RUNNING") {
    await new Promise((done) => setTimeout(done, 1000));
    try {
      await refresh();
    } catch (e) {
      // The server may be restarting; try again on the next tick.
    }
  }
}

live();
