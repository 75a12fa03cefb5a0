// amqpmodel's management page: plain JavaScript over the management API (no build step).
"use strict";

const view = document.getElementById("view");
const login = document.getElementById("login");

function credentials() { return sessionStorage.getItem("amqpmodel-auth"); }

async function api(method, path, body) {
  const headers = { Authorization: "Basic " + credentials(), "X-Requested-With": "XMLHttpRequest" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && !path.startsWith("/api/whoami")) { showLogin("Not authorised"); }
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch (e) { value = text; }
  if (!response.ok) {
    const reason = value && value.reason !== undefined ? value.reason : response.statusText;
    throw new Error(`${response.status}: ${typeof reason === "string" ? reason : JSON.stringify(reason)}`);
  }
  return value;
}

const q = encodeURIComponent;

function esc(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function table(id, columns, rows) {
  const head = columns.map(([title]) => `<th>${esc(title)}</th>`).join("");
  const body = rows.map(row => "<tr>" + columns.map(([, cell]) => {
    const value = cell(row);
    const numeric = typeof value === "number";
    return `<td${numeric ? ' class="num"' : ""}>${value && value.html !== undefined ? value.html : esc(value)}</td>`;
  }).join("") + "</tr>").join("");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

const link = (href, text) => ({ html: `<a href="${esc(href)}">${esc(text)}</a>` });
const rate = (stats, key) => (stats && stats[key + "_details"] ? stats[key + "_details"].rate : 0);

// ----------------------------------------------------------------- views

async function overview() {
  const o = await api("GET", "/api/overview");
  const totals = o.object_totals, queued = o.queue_totals;
  view.innerHTML = `<h2>Overview</h2>
    <p>${esc(o.product_name)} ${esc(o.product_version)}, behaving as RabbitMQ ${esc(o.rabbitmq_version)}, node ${esc(o.node)}</p>
    ${table("totals", [["connections", r => r.connections], ["channels", r => r.channels], ["exchanges", r => r.exchanges],
      ["queues", r => r.queues], ["consumers", r => r.consumers]], [totals])}
    ${table("messages", [["messages", r => r.messages], ["ready", r => r.messages_ready],
      ["unacked", r => r.messages_unacknowledged], ["publish /s", () => rate(o.message_stats, "publish")],
      ["deliver /s", () => rate(o.message_stats, "deliver_get")], ["ack /s", () => rate(o.message_stats, "ack")]], [queued])}
    ${table("listeners", [["protocol", r => r.protocol], ["interface", r => r.ip_address], ["port", r => r.port]], o.listeners)}`;
}

async function queues() {
  const rows = await api("GET", "/api/queues");
  view.innerHTML = `<h2>Queues (${rows.length})</h2>` + table("queues", [
    ["vhost", r => r.vhost], ["name", r => link(`#/queue/${q(r.vhost)}/${q(r.name)}`, r.name)], ["type", r => r.type],
    ["features", r => [r.durable ? "D" : "", r.auto_delete ? "AD" : "", r.exclusive ? "Excl" : ""].filter(Boolean).join(" ")],
    ["ready", r => r.messages_ready], ["unacked", r => r.messages_unacknowledged], ["total", r => r.messages],
    ["consumers", r => r.consumers], ["publish /s", r => rate(r.message_stats, "publish")],
    ["deliver /s", r => rate(r.message_stats, "deliver_get")], ["ack /s", r => rate(r.message_stats, "ack")],
  ], rows) + `<form id="declare-queue"><h3>Add a queue</h3>
    <label>Virtual host <input name="vhost" value="/"></label>
    <label>Name <input name="name" required></label>
    <label>Type <select name="type"><option>classic</option><option>quorum</option><option>stream</option></select></label>
    <label>Durable <select name="durable"><option value="true">yes</option><option value="false">no</option></select></label>
    <label>Arguments (JSON) <input name="arguments" value="{}"></label>
    <button type="submit">Add queue</button> <span class="result"></span></form>`;
  onSubmit("declare-queue", async f => {
    await api("PUT", `/api/queues/${q(f.vhost.value)}/${q(f.name.value)}`, {
      durable: f.durable.value === "true", arguments: { ...JSON.parse(f.arguments.value || "{}"), "x-queue-type": f.type.value },
    });
    location.hash = `#/queue/${q(f.vhost.value)}/${q(f.name.value)}`;
  });
}

function messageRows(messages) {
  return messages.map(m => ({ ...m, headers: m.properties.headers || {} }));
}

const messageColumns = [
  ["routing key", m => m.routing_key], ["exchange", m => m.exchange], ["redelivered", m => (m.redelivered === null ? "" : String(m.redelivered))],
  ["properties", m => ({ html: `<pre>${esc(JSON.stringify(Object.fromEntries(Object.entries(m.properties).filter(([k]) => k !== "headers")), null, 1))}</pre>` })],
  ["headers", m => ({ html: `<pre>${esc(JSON.stringify(m.headers, null, 1))}</pre>` })],
  ["payload", m => ({ html: `<pre>${esc(m.payload)}</pre>` })],
];

async function queue(vhost, name) {
  const path = `/api/queues/${q(vhost)}/${q(name)}`;
  const [info, held] = await Promise.all([api("GET", path), api("GET", `/amqpmodel/api/queues/${q(vhost)}/${q(name)}/messages`)]);
  view.innerHTML = `<h2>Queue ${esc(name)} <small>in vhost ${esc(vhost)}</small></h2>
    ${table("queue-info", [["type", r => r.type], ["durable", r => String(r.durable)], ["ready", r => r.messages_ready],
      ["unacked", r => r.messages_unacknowledged], ["consumers", r => r.consumers], ["arguments", r => r.arguments]], [info])}
    <h3>Ready messages (${held.ready.length}${held.ready_total > held.ready.length ? ` of ${held.ready_total}` : ""})</h3>
    ${table("ready-messages", messageColumns, messageRows(held.ready))}
    <h3>Held by consumers, unacknowledged (${held.unacked.length})</h3>
    ${table("unacked-messages", [["held by", m => m.held_by], ["delivery tag", m => m.delivery_tag], ...messageColumns], messageRows(held.unacked))}
    <h3>Consumers</h3>
    ${table("queue-consumers", [["consumer tag", c => c.consumer_tag], ["channel", c => c.channel_details.name],
      ["ack required", c => String(c.ack_required)], ["prefetch", c => c.prefetch_count], ["status", c => c.activity_status]], info.consumer_details || [])}
    <form id="publish"><h3>Publish a message</h3>
      <label>Routing key <input name="routing_key" value="${esc(name)}"></label>
      <label>Headers (JSON) <input name="headers" value="{}"></label>
      <label>Delivery mode <select name="delivery_mode"><option value="1">1 (transient)</option><option value="2">2 (persistent)</option></select></label>
      <label>Payload <textarea name="payload" rows="3" cols="40"></textarea></label>
      <button type="submit">Publish message</button> <span class="result"></span></form>
    <form id="get"><h3>Get messages</h3>
      <label>Ack mode <select name="ackmode"><option value="ack_requeue_true">Nack message requeue true</option>
        <option value="ack_requeue_false">Automatic ack</option><option value="reject_requeue_true">Reject requeue true</option>
        <option value="reject_requeue_false">Reject requeue false</option></select></label>
      <label>Messages <input name="count" value="1" size="4"></label>
      <button type="submit">Get messages</button> <span class="result"></span></form>
    <div id="got"></div>
    <p><button id="purge">Purge messages</button> <button id="delete">Delete queue</button></p>`;
  onSubmit("publish", async f => {
    const properties = { delivery_mode: Number(f.delivery_mode.value), headers: JSON.parse(f.headers.value || "{}") };
    const answer = await api("POST", `/api/exchanges/${q(vhost)}/amq.default/publish`,
      { properties, routing_key: f.routing_key.value, payload: f.payload.value, payload_encoding: "string" });
    await queue(vhost, name);
    result("publish", answer.routed ? "Message published." : "Message published, but not routed.");
  });
  onSubmit("get", async f => {
    const got = await api("POST", `${path}/get`, { count: Number(f.count.value), ackmode: f.ackmode.value, encoding: "auto" });
    await queue(vhost, name);
    document.getElementById("got").innerHTML = `<h3>Got ${got.length}</h3>` +
      table("got-messages", [["message count", m => m.message_count], ...messageColumns], messageRows(got));
  });
  document.getElementById("purge").onclick = async () => { await api("DELETE", `${path}/contents`); await queue(vhost, name); };
  document.getElementById("delete").onclick = async () => { await api("DELETE", path); location.hash = "#/queues"; };
}

async function exchanges() {
  const rows = await api("GET", "/api/exchanges");
  view.innerHTML = `<h2>Exchanges (${rows.length})</h2>` + table("exchanges", [
    ["vhost", r => r.vhost], ["name", r => r.name || "(AMQP default)"], ["type", r => r.type],
    ["features", r => [r.durable ? "D" : "", r.auto_delete ? "AD" : "", r.internal ? "I" : ""].filter(Boolean).join(" ")],
    ["arguments", r => r.arguments],
  ], rows);
}

async function bindings() {
  const rows = await api("GET", "/api/bindings");
  view.innerHTML = `<h2>Bindings (${rows.length})</h2>` + table("bindings", [
    ["vhost", r => r.vhost], ["source", r => r.source || "(AMQP default)"], ["destination", r => r.destination],
    ["kind", r => r.destination_type], ["routing key", r => r.routing_key], ["arguments", r => r.arguments],
  ], rows);
}

async function connections() {
  const rows = await api("GET", "/api/connections");
  view.innerHTML = `<h2>Connections (${rows.length})</h2>` + table("connections", [
    ["name", r => r.name], ["user", r => r.user], ["vhost", r => r.vhost], ["protocol", r => r.protocol],
    ["channels", r => r.channels], ["client", r => (r.client_properties || {}).product], ["state", r => r.state],
  ], rows);
}

async function channels() {
  const rows = await api("GET", "/api/channels");
  view.innerHTML = `<h2>Channels (${rows.length})</h2>` + table("channels", [
    ["name", r => r.name], ["user", r => r.user], ["vhost", r => r.vhost],
    ["mode", r => [r.confirm ? "C" : "", r.transactional ? "T" : ""].filter(Boolean).join(" ")],
    ["prefetch", r => r.prefetch_count], ["unacked", r => r.messages_unacknowledged],
    ["unconfirmed", r => r.messages_unconfirmed], ["consumers", r => r.consumer_count],
  ], rows);
}

async function consumers() {
  const rows = await api("GET", "/api/consumers");
  view.innerHTML = `<h2>Consumers (${rows.length})</h2>` + table("consumers", [
    ["queue", r => link(`#/queue/${q(r.queue.vhost)}/${q(r.queue.name)}`, r.queue.name)], ["consumer tag", r => r.consumer_tag],
    ["channel", r => r.channel_details.name], ["ack required", r => String(r.ack_required)],
    ["prefetch", r => r.prefetch_count], ["status", r => r.activity_status],
  ], rows);
}

async function topology(vhost) {
  const vhosts = await api("GET", "/api/vhosts");
  const chosen = vhost || "/";
  const response = await fetch(`/amqpmodel/topology/${q(chosen)}.svg`,
    { headers: { Authorization: "Basic " + credentials(), "X-Requested-With": "XMLHttpRequest" } });
  const svg = await response.text();
  view.innerHTML = `<h2>Topology of vhost ${esc(chosen)}</h2>
    <p>${vhosts.map(v => `<a href="#/topology/${q(v.name)}">${esc(v.name)}</a>`).join(" ")}</p>
    <div class="topology">${response.ok ? svg : `<p class="error">${esc(svg)}</p>`}</div>`;
}

// ----------------------------------------------------------------- plumbing

function result(formId, text, isError) {
  const span = document.querySelector(`#${formId} .result`);
  if (span) { span.textContent = text; span.className = "result " + (isError ? "error" : "ok"); }
}

function onSubmit(formId, action) {
  const form = document.getElementById(formId);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    try { await action(form.elements); } catch (error) { result(formId, error.message, true); }
  });
}

const routes = { overview, queues, exchanges, bindings, connections, channels, consumers, queue, topology };

async function route() {
  if (!credentials()) { showLogin(""); return; }
  const [name, ...args] = (location.hash.replace(/^#\//, "") || "overview").split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.getAttribute("href") === `#/${name}`);
  try { await (routes[name] || overview)(...args); } catch (error) {
    view.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

function showLogin(message) {
  login.hidden = false;
  view.innerHTML = "";
  document.getElementById("login-error").textContent = message;
}

login.addEventListener("submit", async event => {
  event.preventDefault();
  const f = login.elements;
  sessionStorage.setItem("amqpmodel-auth", btoa(`${f.username.value}:${f.password.value}`));
  try {
    const me = await api("GET", "/api/whoami");
    document.getElementById("who").textContent = `${me.name} (${me.tags.join(", ")})`;
    login.hidden = true;
    route();
  } catch (error) {
    sessionStorage.removeItem("amqpmodel-auth");
    showLogin(`Login failed: ${error.message}`);
  }
});

window.addEventListener("hashchange", route);
if (credentials()) {
  api("GET", "/api/whoami").then(me => { document.getElementById("who").textContent = me.name; route(); }).catch(() => showLogin(""));
} else {
  showLogin("");
}
