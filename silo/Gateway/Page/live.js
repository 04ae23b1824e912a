"use strict";

// The live page of an OrleansLm silo: its cluster's runs (polled), the selected run's loss curve (fetched
// incrementally), and sampling through the gateway. The JSON is the gRPC messages in protobuf's JSON mapping:
// 64-bit integers arrive as strings, NaN as "NaN". Text from the server goes into the DOM as textContent or as SVG
// attributes, never as markup.

const POLL_MS = 2000;
const MODELS_EVERY_POLLS = 5;
const TOKEN_KEY = "olm.token";
const SVG = "http://www.w3.org/2000/svg";

const STATES = {
  RUN_STATE_RUNNING: "running",
  RUN_STATE_PAUSED: "paused",
  RUN_STATE_STOPPED: "stopped",
  RUN_STATE_COMPLETED: "completed",
  RUN_STATE_FAILED: "failed",
};

// The sample form's input of each GenerateRequest field, to mark the one an error names.
const FIELD_INPUTS = {
  model: "model", prompt: "prompt", max_new_tokens: "max-tokens", temperature: "temperature",
  top_k: "top-k", top_p: "top-p", seed: "seed",
};

const $ = (id) => document.getElementById(id);

const page = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? "",
  selected: null, // the run whose curve shows
  chosen: false, // whether the user picked it; otherwise the page follows the newest running run
  curve: null, // { runId, losses: number[], evaluations: [step, loss][], step, totalSteps, loading }
  polls: 0,
  generation: 0, // the current poll loop; a new token starts a new one
};

class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

async function api(path, body) {
  const headers = { Accept: "application/json" };
  if (page.token) headers.Authorization = `Bearer ${page.token}`;
  const init = { headers, cache: "no-store" };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `the silo does not answer (${e.message})`);
  }
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, json?.error ?? `${response.status} ${response.statusText}`, json?.field);
  return json;
}

// ---- formatting ----

const number = (value) => (typeof value === "number" ? value : Number(value));

function fixed(value, digits) {
  const x = number(value);
  return Number.isFinite(x) ? x.toFixed(digits) : "—";
}

function whole(value) {
  const x = number(value);
  return Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—";
}

const stateName = (state) => STATES[state] ?? "unknown";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// ---- messages ----

function showMessage(text) {
  const message = $("message");
  message.textContent = text ?? "";
  message.hidden = !text;
}

function describe(error) {
  if (error.status === 401) {
    return page.token
      ? `The gateway refused this token (${error.message}). Enter its sampling or admin token above.`
      : "This gateway needs a token: enter its sampling or admin token above (it is kept in this tab only).";
  }
  if (error.status === 0) return `Cannot reach the silo: ${error.message}.`;
  return `${error.status >= 500 ? "The silo failed" : "Refused"} (${error.status}): ${error.message}`;
}

function showError(error) {
  showMessage(describe(error));
  $("token").classList.toggle("invalid", error.status === 401);
}

// ---- runs ----

function renderRuns(runs) {
  const rows = runs.map((run) => {
    const row = element("tr");
    row.dataset.run = run.runId;
    row.tabIndex = 0;
    row.classList.toggle("selected", run.runId === page.selected);
    const state = stateName(run.state);
    const steps = element("td");
    const progress = element("progress");
    progress.max = Math.max(1, number(run.totalSteps));
    progress.value = number(run.step);
    steps.append(progress, element("span", `${whole(run.step)} / ${whole(run.totalSteps)}`));
    const stateCell = element("td");
    stateCell.append(element("span", state, `state ${state}`));
    if (run.error) stateCell.title = run.error;
    row.append(
      element("td", run.runId, "run-id"), stateCell, steps,
      element("td", fixed(run.loss, 3), "number"), element("td", fixed(run.validationLoss, 3), "number"),
      element("td", whole(run.tokensPerSecond), "number"), element("td", run.modelFamily));
    row.addEventListener("click", () => select(run.runId, true));
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") select(run.runId, true); });
    return row;
  });
  $("runs").tBodies[0].replaceChildren(...rows);
  $("no-runs").hidden = runs.length > 0;
}

function followRuns(runs) {
  if (page.chosen && runs.some((run) => run.runId === page.selected)) return;
  const shown = runs.find((run) => run.state === "RUN_STATE_RUNNING") ?? runs[0];
  if (!shown) return;
  if (shown.runId !== page.selected) select(shown.runId, false);
}

function select(runId, chosen) {
  page.chosen ||= chosen;
  if (runId === page.selected) return;
  page.selected = runId;
  page.curve = { runId, losses: [], evaluations: [], step: 0, totalSteps: 0, loading: false };
  for (const row of $("runs").tBodies[0].rows) row.classList.toggle("selected", row.dataset.run === runId);
  drawCurve(page.curve);
  if (chosen) refreshCurve().catch(showError);
}

// ---- the loss curve ----

async function refreshCurve() {
  const curve = page.curve;
  if (!curve || curve.loading) return; // one request at a time, so that no steps arrive twice
  curve.loading = true;
  try {
    const data = await api(`/api/runs/${encodeURIComponent(curve.runId)}/curve?from=${curve.losses.length}`);
    if (number(data.step) < curve.losses.length) {
      // The run went back to a checkpoint: its later steps are gone. The next poll fetches it all again.
      curve.losses = [];
      return;
    }
    for (const loss of data.losses) curve.losses.push(number(loss));
    curve.evaluations = data.evaluations.map((e) => [number(e.step), number(e.validationLoss)]);
    curve.step = number(data.step);
    curve.totalSteps = number(data.totalSteps);
    if (page.curve === curve) drawCurve(curve);
  } finally {
    curve.loading = false;
  }
}

const VIEW = { width: 720, height: 340, left: 60, right: 20, top: 16, bottom: 44 };

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A round step (1, 2 or 5 times a power of ten) that cuts [low, high] into about `count` parts.
function tickStep(low, high, count) {
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw);
}

// The multiples of `step` in [low, high].
function ticks(low, high, step) {
  const values = [];
  for (let i = Math.ceil(low / step - 1e-9); i * step <= high + step * 1e-9; i++) values.push(Number((i * step).toPrecision(12)));
  return values;
}

function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  return [low, high];
}

function drawCurve(curve) {
  const plot = $("curve");
  const lastLoss = curve.losses.length ? curve.losses[curve.losses.length - 1] : NaN;
  const lastValidation = curve.evaluations.length ? curve.evaluations[curve.evaluations.length - 1][1] : NaN;
  $("curve-title").textContent = `${curve.runId} · step ${whole(curve.step)} of ${whole(curve.totalSteps)} · loss ${fixed(lastLoss, 3)}`
    + ` · validation ${fixed(lastValidation, 3)}`;

  const training = [];
  curve.losses.forEach((loss, i) => { if (Number.isFinite(loss)) training.push([i + 1, loss]); });
  const validation = curve.evaluations.filter(([, loss]) => Number.isFinite(loss));
  const { left, right, top, bottom, width, height } = VIEW;
  if (training.length + validation.length === 0) {
    plot.replaceChildren(svg("text", { x: width / 2, y: height / 2, class: "empty" }, "no steps yet"));
    return;
  }

  let [low, high] = extent([...training.map((p) => p[1]), ...validation.map((p) => p[1])]);
  if (high - low < 1e-6) [low, high] = [low - 0.5, high + 0.5];
  const yStep = tickStep(low, high, 5);
  low = Math.floor(low / yStep) * yStep;
  high = Math.ceil(high / yStep) * yStep;
  const steps = Math.max(1, curve.losses.length, ...validation.map((p) => p[0]));
  const x = (step) => left + (step / steps) * (width - left - right);
  const y = (loss) => top + ((high - loss) / (high - low)) * (height - top - bottom);

  const nodes = [];
  for (const value of ticks(low, high, yStep)) {
    nodes.push(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "grid" }));
    nodes.push(svg("text", { x: left - 8, y: y(value), class: "tick y" }, value.toString()));
  }
  for (const value of ticks(0, steps, tickStep(0, steps, 6))) {
    nodes.push(svg("line", { x1: x(value), x2: x(value), y1: height - bottom, y2: height - bottom + 5, class: "axis" }));
    nodes.push(svg("text", { x: x(value), y: height - bottom + 18, class: "tick x" }, value.toLocaleString("en-US")));
  }
  nodes.push(svg("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom, class: "axis" }));
  nodes.push(svg("line", { x1: left, x2: left, y1: top, y2: height - bottom, class: "axis" }));
  nodes.push(svg("text", { x: (left + width - right) / 2, y: height - 6, class: "label" }, "step"));
  nodes.push(svg("text", { x: 14, y: (top + height - bottom) / 2, class: "label", transform: `rotate(-90 14 ${(top + height - bottom) / 2})` },
    "loss (nats per token)"));

  const points = (pairs) => pairs.map(([step, loss]) => `${x(step).toFixed(1)},${y(loss).toFixed(1)}`).join(" ");
  nodes.push(svg("polyline", { points: points(training), class: "train" }));
  if (validation.length > 0) {
    nodes.push(svg("polyline", { points: points(validation), class: "validation" }));
    for (const [step, loss] of validation) {
      const dot = svg("circle", { cx: x(step), cy: y(loss), r: 3.5, class: "validation" });
      dot.append(svg("title", {}, `step ${step}: validation loss ${loss.toFixed(4)}`));
      nodes.push(dot);
    }
  }
  plot.replaceChildren(...nodes);
}

// ---- models and sampling ----

async function refreshModels() {
  const models = (await api("/api/models")).models ?? [];
  const picker = $("model");
  const current = picker.value;
  picker.replaceChildren(...models.map((model) => {
    const detail = model.source === "SOURCE_RUN"
      ? `run, ${stateName(model.runState)}`
      : `export, ${(number(model.sizeBytes) / 1e6).toFixed(1)} MB`;
    const option = element("option", `${model.model} (${detail})`);
    option.value = model.model;
    return option;
  }));
  if (models.some((model) => model.model === current)) picker.value = current;
}

function optionalNumber(id) {
  const text = $(id).value.trim();
  return text === "" ? undefined : Number(text);
}

async function sample(event) {
  event.preventDefault();
  const result = $("result");
  const button = $("sample");
  for (const id of Object.values(FIELD_INPUTS)) $(id).classList.remove("invalid");
  const request = {
    model: $("model").value,
    prompt: $("prompt").value,
    max_new_tokens: optionalNumber("max-tokens"),
    temperature: optionalNumber("temperature"),
    top_k: optionalNumber("top-k"),
    top_p: optionalNumber("top-p"),
    seed: optionalNumber("seed"),
  };
  button.disabled = true;
  result.dataset.state = "running";
  $("sample-info").textContent = "sampling…";
  try {
    const response = await api("/api/sample", request);
    const completion = response.completions[0];
    $("result-prompt").textContent = request.prompt;
    $("completion").textContent = completion.text;
    const finish = completion.finishReason === "FINISH_REASON_STOP" ? "stop sequence" : "length";
    $("sample-info").textContent = `${completion.tokens.length} tokens from ${response.model} · ended by ${finish}`
      + ` · log p ${fixed(completion.logprob, 2)}`;
    result.dataset.state = "done";
  } catch (error) {
    $("result-prompt").textContent = "";
    $("completion").textContent = "";
    $("sample-info").textContent = error.status === 401 ? describe(error) : error.message;
    if (error.field && FIELD_INPUTS[error.field]) $(FIELD_INPUTS[error.field]).classList.add("invalid");
    if (error.status === 401) showError(error);
    result.dataset.state = "error";
  } finally {
    button.disabled = false;
  }
}

// ---- polling ----

async function poll(generation) {
  if (generation !== page.generation) return;
  try {
    const runs = (await api("/api/runs")).runs ?? [];
    renderRuns(runs);
    followRuns(runs);
    if (page.polls % MODELS_EVERY_POLLS === 0) await refreshModels();
    await refreshCurve();
    page.polls++;
    showMessage(null);
    $("token").classList.remove("invalid");
  } catch (error) {
    showError(error);
  } finally {
    if (generation === page.generation) setTimeout(() => poll(generation), POLL_MS);
  }
}

function useToken(event) {
  event.preventDefault();
  page.token = $("token").value.trim();
  if (page.token) sessionStorage.setItem(TOKEN_KEY, page.token);
  else sessionStorage.removeItem(TOKEN_KEY);
  page.polls = 0;
  poll(++page.generation);
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = page.token;
  $("auth").addEventListener("submit", useToken);
  $("sample-form").addEventListener("submit", sample);
  poll(page.generation);
});
