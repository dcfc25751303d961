// The matdiff playground: the engine (matdiff-web, WebAssembly) runs in the page; KaTeX typesets.
// State lives in the address: #expr=<EXPR>&wrt=<NAME>&let=<DECL;DECL>, each part URL-encoded.
import katex from "katex";
import "katex/dist/katex.min.css";
import "./style.css";
import init, * as engine from "matdiff-engine";

// The seed article's examples (its sections), as the derivation catalog has them.
const EXAMPLES = [
  ["2.5.4 warm-up 3: tr(YᵀMY), Y = σ(WX)", "tr(Y'*M*Y) where Y = sigmoid(W*X)", "X", "M: symmetric"],
  ["2.5.4 the same, ∂f/∂W", "tr(Y'*M*Y) where Y = sigmoid(W*X)", "W", "M: symmetric"],
  ["2.5.2 warm-up 1: aᵀXb", "a'*X*b", "X", ""],
  ["2.5.3 warm-up 2: aᵀexp(Xb)", "a'*exp(X*b)", "X", ""],
  ["2.5.1 composition: sum(exp(AXB))", "sum(exp(Y)) where Y = A*X*B", "X", ""],
  ["2.5.5 linear regression", "norm2(X*w - y)^2", "w", ""],
  ["2.5.5 inner product form", "(X*w - y)'*(X*w - y)", "w", ""],
  ["1.2 two-layer network, ∂L/∂W1", "norm2(a2 - y)^2 where a2 = g2(W2*a1 + b2), a1 = g1(W1*x + b1)", "W1", ""],
  ["1.2 two-layer network, ∂L/∂b2", "norm2(a2 - y)^2 where a2 = g2(W2*a1 + b2), a1 = g1(W1*x + b1)", "b2", ""],
  ["Algorithm 1: one layer, upstream G", "tr(G'*g(W*a + b))", "W", "G: vector"],
];

const $ = (id) => document.getElementById(id);
const state = { expr: "", wrt: "", lets: new Map() }; // lets: name -> {size, symmetric}
let rules = new Map();
let last = null; // the last successful derivation
const timings = { firstDerivation: null, lastDerivation: null };
window.matdiff = { engine, timings };

// One call of the engine, its JSON parsed. A trap of the WebAssembly module (out of memory)
// becomes an error shown like the others.
function call(name, ...args) {
  try {
    return JSON.parse(engine[name](...args));
  } catch (e) {
    return { ok: false, error: { message: `the engine failed on this input (${e.message}); reload the page` } };
  }
}

function tex(target, latex, display = true) {
  katex.render(latex, target, { displayMode: display, throwOnError: false });
}

function letsText() {
  const parts = [];
  for (const [name, d] of state.lets) {
    const spec = [d.size.trim(), d.symmetric ? "symmetric" : ""].filter(Boolean).join(" ");
    if (spec) parts.push(`${name}: ${spec}`);
  }
  return parts;
}

function parseLets(text) {
  const lets = new Map();
  for (const part of text.split(";")) {
    const m = part.match(/^\s*([^:]+?)\s*:\s*(.*?)\s*$/);
    if (!m) continue;
    const words = m[2].split(/\s+/);
    const symmetric = words.includes("symmetric");
    const size = words.filter((w) => w !== "symmetric").join(" ");
    for (const name of m[1].split(",")) lets.set(name.trim(), { size, symmetric });
  }
  return lets;
}

function writeHash() {
  const enc = encodeURIComponent;
  const hash = `#expr=${enc(state.expr)}&wrt=${enc(state.wrt)}&let=${enc(letsText().join(";"))}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1).replace(/\+/g, "%2B"));
  if (!params.has("expr")) return false;
  state.expr = params.get("expr") ?? "";
  state.wrt = params.get("wrt") ?? "";
  state.lets = parseLets(params.get("let") ?? "");
  return true;
}

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// Underlines [start, end) of the expression (UTF-16 offsets from the engine).
function underline(start, end) {
  const text = $("expr").value;
  const mirror = $("mirror");
  if (start == null) {
    mirror.textContent = text;
  } else {
    const mark = end > start ? escapeHtml(text.slice(start, end)) : "";
    mirror.innerHTML = `${escapeHtml(text.slice(0, start))}<mark class="${end > start ? "" : "empty"}" data-start="${start}" data-end="${end}">${mark}</mark>${escapeHtml(text.slice(end))}`;
  }
  mirror.scrollLeft = $("expr").scrollLeft;
}

function showError(error, declNames) {
  $("error").textContent = "";
  for (const input of document.querySelectorAll(".decl input.invalid")) input.classList.remove("invalid");
  if (!error) {
    underline(null);
    return;
  }
  if (error.decl != null && declNames[error.decl]) {
    underline(null);
    const name = declNames[error.decl];
    const input = document.querySelector(`.decl[data-name="${CSS.escape(name)}"] input[type=text]`);
    if (input) input.classList.add("invalid");
    $("error").textContent = `error in the declaration of ${name}: ${error.message}`;
    return;
  }
  if (error.start != null) {
    underline(error.start, error.end);
    $("error").textContent = `error at column ${error.start + 1}: ${error.message}`;
  } else {
    underline(null);
    $("error").textContent = `error: ${error.message}`;
  }
}

function renderDecls(variables) {
  const rows = $("decl-rows");
  const focused = document.activeElement?.closest?.(".decl")?.dataset.name;
  const names = variables.map((v) => v.name);
  if (rows.dataset.names === names.join(",")) {
    for (const v of variables) {
      const input = rows.querySelector(`.decl[data-name="${CSS.escape(v.name)}"] input[type=text]`);
      if (input) input.placeholder = v.shape;
    }
    return;
  }
  rows.dataset.names = names.join(",");
  rows.replaceChildren();
  for (const v of variables) {
    const d = state.lets.get(v.name) ?? { size: "", symmetric: false };
    const row = document.createElement("div");
    row.className = "decl";
    row.dataset.name = v.name;
    row.innerHTML = `<code>${escapeHtml(v.name)}</code><input type="text" aria-label="size of ${escapeHtml(v.name)}" spellcheck="false"><label><input type="checkbox"> symmetric</label>`;
    const size = row.querySelector("input[type=text]");
    const sym = row.querySelector("input[type=checkbox]");
    size.value = d.size;
    size.placeholder = v.shape;
    sym.checked = d.symmetric;
    const changed = () => {
      state.lets.set(v.name, { size: size.value, symmetric: sym.checked });
      update();
    };
    size.addEventListener("input", changed);
    sym.addEventListener("change", changed);
    rows.append(row);
    if (focused === v.name) size.focus();
  }
}

function renderWrt(variables) {
  const select = $("wrt");
  const names = variables.map((v) => v.name);
  if (!names.includes(state.wrt)) state.wrt = names.includes("X") ? "X" : (names[names.length - 1] ?? "");
  if (select.dataset.names !== names.join(",")) {
    select.dataset.names = names.join(",");
    select.replaceChildren(...names.map((n) => new Option(n, n)));
  }
  select.value = state.wrt;
}

function renderDerivation(d) {
  last = d;
  tex($("gradient"), `\\frac{\\partial f}{\\partial ${d.wrt}} = ${d.gradient.latex}`);
  $("gradient").dataset.plain = d.gradient.plain;
  $("note").textContent = d.symmetric
    ? `${d.wrt} is declared symmetric: this is the symmetric gradient (G + G')/2.`
    : "";
  const body = $("steps").tBodies[0];
  body.replaceChildren();
  for (const s of d.steps) {
    const tr = body.insertRow();
    const lhs = tr.insertCell();
    lhs.className = "lhs";
    if (s.lhs) tex(lhs, s.lhs, false);
    tr.insertCell().textContent = "=";
    const expr = tr.insertCell();
    expr.className = "body";
    expr.title = s.plain;
    tex(expr, s.latex, false);
    const why = tr.insertCell();
    why.className = "rules";
    for (const id of s.rules) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = id;
      b.title = rules.get(id)?.name ?? id;
      b.addEventListener("click", () => showRule(id, b));
      why.append(b);
    }
  }
  $("step-count").textContent = `${d.steps.length} steps`;
  $("steps").dataset.steps = d.steps.length;
}

function showRule(id, from) {
  const r = rules.get(id);
  const panel = $("rule");
  if (!r) return;
  panel.innerHTML = `<h3>${escapeHtml(r.id)} ${escapeHtml(r.name)}</h3><div class="identity"></div><p><code>${escapeHtml(r.plain)}</code></p><button type="button">Close</button>`;
  tex(panel.querySelector(".identity"), r.latex);
  panel.hidden = false;
  const close = panel.querySelector("button");
  close.addEventListener("click", () => {
    panel.hidden = true;
    from?.focus();
  });
  panel.dataset.rule = id;
  close.focus();
  panel.scrollIntoView({ block: "nearest" });
}

function clearResult() {
  last = null;
  $("gradient").replaceChildren();
  $("note").textContent = "";
  delete $("gradient").dataset.plain;
  $("steps").tBodies[0].replaceChildren();
  $("step-count").textContent = "";
  delete $("steps").dataset.steps;
}

function update() {
  state.expr = $("expr").value;
  $("check-result").textContent = "";
  $("check-result").className = "";
  const lets = letsText();
  const declNames = lets.map((l) => l.split(":")[0]);
  const analysis = call("analyze", state.expr, lets.join(";"));
  // While the expression does not parse, the declarations of the last one stay, dimmed.
  $("decls").classList.toggle("stale", !analysis.ok);
  $("wrt").classList.toggle("stale", !analysis.ok);
  if (!analysis.ok) {
    showError(analysis.error, declNames);
    clearResult();
    writeHash();
    return;
  }
  renderDecls(analysis.variables);
  renderWrt(analysis.variables);
  const t0 = performance.now();
  const d = call("derivation", state.expr, state.wrt, lets.join(";"));
  timings.lastDerivation = performance.now() - t0;
  if (d.ok) {
    showError(null, declNames);
    renderDerivation(d);
    if (timings.firstDerivation == null) timings.firstDerivation = performance.now();
  } else {
    showError(d.error, declNames);
    clearResult();
  }
  writeHash();
}

function runCheck() {
  if (!last) return;
  const out = $("check-result");
  const c = call("check", state.expr, state.wrt, letsText().join(";"), 0);
  if (!c.ok) {
    out.className = "bad";
    out.textContent = `error: ${c.error.message}`;
    return;
  }
  const sizes = Object.entries(c.sizes).map(([n, s]) => `${n}: ${s}`).join(", ");
  const e = (x) => x.toExponential(1);
  out.className = c.agrees ? "ok" : "bad";
  out.textContent = `${c.agrees ? "agrees" : "MISMATCH"}: max relative error ${e(c.max_error_complex_step)} against the complex step (tolerance ${e(c.tolerance)}), ${e(c.max_error_finite_difference)} against central differences, at random values (${sizes})`;
}

function load() {
  $("expr").value = state.expr;
  $("decl-rows").dataset.names = "";
  update();
}

function copy(text) {
  const done = () => ($("copied").textContent = "copied");
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => ($("copied").textContent = "copy failed"));
}

async function main() {
  await init({ module_or_path: new URL("matdiff_web_bg.wasm", document.baseURI) });
  rules = new Map(JSON.parse(engine.rules()).map((r) => [r.id, r]));
  for (const [label] of EXAMPLES) $("examples").append(new Option(label, label));
  $("examples").addEventListener("change", () => {
    const ex = EXAMPLES.find((e) => e[0] === $("examples").value);
    if (!ex) return;
    [, state.expr, state.wrt] = ex;
    state.lets = parseLets(ex[3]);
    load();
  });
  $("expr").addEventListener("input", update);
  $("expr").addEventListener("scroll", () => ($("mirror").scrollLeft = $("expr").scrollLeft));
  $("wrt").addEventListener("change", () => {
    state.wrt = $("wrt").value;
    update();
  });
  $("copy-text").addEventListener("click", () => last && copy(last.gradient.plain));
  $("copy-latex").addEventListener("click", () => last && copy(last.gradient.latex));
  $("check").addEventListener("click", runCheck);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") $("rule").hidden = true;
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) runCheck();
  });
  window.addEventListener("hashchange", () => readHash() && load());
  if (!readHash()) {
    [, state.expr, state.wrt] = EXAMPLES[0];
    state.lets = parseLets(EXAMPLES[0][3]);
  }
  load();
  document.body.dataset.ready = "true";
}

main();
