// The admin page: polls the admin JSON endpoints and renders them, and
// renders the OpenAPI document with a "try it" form per operation.
// Every string from the gateway is put into the DOM as text (never as
// HTML): route names and descriptions come from configs and protos.
'use strict';

const POLL_MS = 3000;
const TOKEN_KEY = 'protogate-admin-token';
const API_KEY = 'protogate-api-base';

let token = sessionStorage.getItem(TOKEN_KEY);
let previous = null; // { at, totals: Map(route -> {total, errors}) }
let generation = null;

/** An element: `attrs` set as properties, `children` strings (as text) or nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  return node;
}

function setStatus(text, failed) {
  const status = document.getElementById('poll-status');
  status.textContent = text;
  status.className = failed ? 'failed' : 'muted';
}

class Unauthorized extends Error {}

/** GET `path` on the admin listener, with the token; `null` on 404. */
async function admin(path) {
  const headers = token ? { authorization: 'Bearer ' + token } : {};
  const response = await fetch(path, { headers, cache: 'no-store' });
  if (response.status === 401) {
    document.getElementById('token-form').hidden = false;
    throw new Unauthorized('the admin API wants a token');
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(path + ': ' + response.status);
  return path === '/metrics' ? response.text() : response.json();
}

// ---- upstreams -------------------------------------------------------

function renderUpstreams(upstreams) {
  const rows = [];
  for (const upstream of upstreams) {
    const breaker = el('td', { class: 'breaker-' + upstream.breaker }, upstream.breaker);
    const endpoints = upstream.endpoints.length ? upstream.endpoints : [null];
    endpoints.forEach((endpoint, index) => {
      const first = index === 0;
      const cells = [
        el('td', {}, first ? upstream.name : ''),
        first ? breaker : el('td'),
      ];
      if (endpoint) {
        const health = endpoint.healthy ? 'healthy' : 'unhealthy';
        const notes = [];
        if (endpoint.ejected_seconds !== null) notes.push('ejected ' + endpoint.ejected_seconds.toFixed(1) + ' s');
        if (endpoint.unreachable_seconds !== null) notes.push('unreachable ' + endpoint.unreachable_seconds.toFixed(1) + ' s');
        cells.push(
          el('td', { class: 'mono' }, endpoint.uri, endpoint.address && endpoint.address !== endpoint.uri ? ' (' + endpoint.address + ')' : ''),
          el('td', { class: health, 'data-upstream': upstream.name }, health, notes.length ? ' · ' + notes.join(', ') : ''),
          el('td', {}, endpoint.in_flight),
          el('td', {}, endpoint.consecutive_failures),
        );
      } else {
        cells.push(el('td', { class: 'muted', colSpan: 4 }, 'no endpoints'));
      }
      rows.push(el('tr', {}, cells));
    });
  }
  document.querySelector('#upstreams tbody').replaceChildren(...rows);
}

// ---- routes and their rates -----------------------------------------

/** The labels of a Prometheus sample line's `{...}`. */
function labelsOf(text) {
  const labels = {};
  const pattern = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const [, name, value] of text.matchAll(pattern)) {
    labels[name] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** Requests and 5xx answers by route id, from `protogate_requests_total`. */
function totalsOf(prometheus) {
  const totals = new Map();
  for (const line of (prometheus || '').split('\n')) {
    const match = /^protogate_requests_total\{(.*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = labelsOf(match[1]);
    const count = Number(match[2]);
    const entry = totals.get(labels.route) || { total: 0, errors: 0 };
    entry.total += count;
    const status = Number(labels.status);
    if (status >= 500 || status === 0) entry.errors += count;
    totals.set(labels.route, entry);
  }
  return totals;
}

/** The metrics' route id of a route-table row. */
function routeIdOf(route) {
  if (route.target === 'pass-through') return route.template;
  if (route.target === 'gRPC pass-through') return route.template.replace(/^\/|\/\*$/g, '');
  return route.method + ' ' + route.template;
}

function rate(now, before, seconds) {
  if (!before || seconds <= 0) return '';
  return ((now - before) / seconds).toFixed(2);
}

function renderRoutes(routes, prometheus) {
  const totals = prometheus === null ? null : totalsOf(prometheus);
  const at = performance.now();
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  const rows = routes.map(route => {
    const id = routeIdOf(route);
    const now = totals && totals.get(id);
    const before = previous && previous.totals.get(id);
    const policies = route.policies.length ? route.policies.join(', ') : '—';
    return el('tr', { 'data-route': route.method + ' ' + route.template },
      el('td', { class: 'mono' }, route.method),
      el('td', { class: 'template' }, route.template),
      el('td', { class: 'mono' }, route.target),
      el('td', {}, route.upstream),
      el('td', {}, policies),
      el('td', {}, now ? rate(now.total, before ? before.total : 0, seconds) : ''),
      el('td', {}, now ? rate(now.errors, before ? before.errors : 0, seconds) : ''),
      el('td', {}, now ? String(now.total) : (totals ? '0' : '')),
    );
  });
  document.querySelector('#routes tbody').replaceChildren(...rows);
  if (totals) previous = { at, totals };
}

// ---- the last reload ------------------------------------------------

function renderReload(status) {
  const box = document.getElementById('reload');
  if (!status) {
    box.replaceChildren('this admin listener has no reloader');
    return;
  }
  const last = status.last_reload;
  const head = el('p', {}, 'generation ', String(status.generation), ' from ', status.source,
    ' · reloads: ', String(status.reloads.succeeded), ' succeeded, ', String(status.reloads.failed), ' failed');
  if (!last) {
    box.replaceChildren(head, el('p', { class: 'muted' }, 'no reload since the start'));
    return;
  }
  const routes = last.routes || { added: [], removed: [], changed: [] };
  const summary = el('p', {},
    el('span', { class: last.result === 'ok' ? 'ok' : 'failed', id: 'reload-result' }, last.result),
    ' at ', last.time, ' (', last.trigger, '): ',
    `${routes.added.length} added, ${routes.removed.length} removed, ${routes.changed.length} changed routes`);
  const errors = (last.errors || []).map(error => el('li', { class: 'failed' }, error));
  const breaking = (last.breaking || []).map(change => el('li', {}, 'breaking: ', change));
  box.className = '';
  box.replaceChildren(head, summary, el('ul', {}, errors, breaking));
}

// ---- the API reference ----------------------------------------------

/** The schema `schema` refers to, in `doc`. */
function resolve(doc, schema) {
  let seen = 0;
  while (schema && schema.$ref && seen++ < 16) {
    const path = schema.$ref.replace(/^#\//, '').split('/').map(part => part.replace(/~1/g, '/').replace(/~0/g, '~'));
    schema = path.reduce((node, part) => (node ? node[part] : undefined), doc);
  }
  return schema || {};
}

function typeOf(doc, schema) {
  const name = schema.$ref ? schema.$ref.split('/').pop() : null;
  const target = resolve(doc, schema);
  const type = Array.isArray(target.type) ? target.type.join(' | ') : target.type;
  const parts = [name || type || (target.oneOf ? 'one of' : 'any')];
  if (target.format) parts.push('(' + target.format + ')');
  if (target.enum) parts.push('[' + target.enum.join(', ') + ']');
  if (target.type === 'array' && target.items) parts.push('of ' + typeOf(doc, target.items));
  return parts.join(' ');
}

/** A nested list of a schema's properties, `depth` levels deep. */
function schemaTree(doc, schema, depth) {
  const target = resolve(doc, schema);
  const items = [];
  for (const [name, property] of Object.entries(target.properties || {})) {
    const resolved = resolve(doc, property);
    const description = resolved.description || property.description;
    const inner = depth > 1 && resolved.properties ? schemaTree(doc, property, depth - 1) : null;
    items.push(el('li', {}, el('code', {}, name), ': ', typeOf(doc, property),
      description ? el('span', { class: 'muted' }, ' — ', description) : null, inner));
  }
  for (const [index, choice] of (target.oneOf || []).entries()) {
    items.push(el('li', {}, 'choice ' + (index + 1) + ': ', typeOf(doc, choice), schemaTree(doc, choice, depth - 1)));
  }
  return items.length ? el('ul', { class: 'schema' }, items) : null;
}

/** A JSON skeleton of a request body, to start from. */
function skeleton(doc, schema, depth) {
  const target = resolve(doc, schema);
  if (target.type === 'object' && target.properties) {
    if (depth <= 0) return {};
    const out = {};
    for (const [name, property] of Object.entries(target.properties)) out[name] = skeleton(doc, property, depth - 1);
    return out;
  }
  const type = Array.isArray(target.type) ? target.type.find(t => t !== 'null') : target.type;
  if (target.enum) return target.enum[0];
  return { string: '', integer: 0, number: 0, boolean: false, array: [], object: {} }[type] ?? null;
}

/** The request `form` describes, as a URL and fetch options. */
function requestOf(form, path, method, parameters, hasBody) {
  const base = document.getElementById('api-base').value.replace(/\/+$/, '');
  const query = new URLSearchParams();
  let filled = path;
  for (const parameter of parameters) {
    const value = form.elements['param-' + parameter.name].value;
    if (parameter.in === 'path') {
      const encoded = value.split('/').map(encodeURIComponent).join('/');
      filled = filled.split('{' + parameter.name + '}').join(encoded);
    } else if (parameter.in === 'query' && value !== '') {
      query.append(parameter.name, value);
    }
  }
  const headers = {};
  const authorization = form.elements.authorization.value;
  if (authorization) headers.authorization = authorization;
  const init = { method: method.toUpperCase(), headers };
  if (hasBody) {
    headers['content-type'] = 'application/json';
    init.body = form.elements.body.value;
  }
  const search = query.toString();
  return [base + filled + (search ? '?' + search : ''), init];
}

async function send(form, output, request) {
  const [url, init] = request;
  output.textContent = init.method + ' ' + url + '\n…';
  try {
    const response = await fetch(url, init);
    let text = await response.text();
    try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not one JSON value: as sent */ }
    output.textContent = init.method + ' ' + url + '\nHTTP ' + response.status + ' ' +
      (response.headers.get('content-type') || '') + '\n\n' + text;
    output.dataset.status = String(response.status);
  } catch (error) {
    output.textContent = init.method + ' ' + url + '\n' + error + '\n\nThe browser refused the answer: is the ' +
      'main listener at that address, and does the route have a CORS policy allowing ' + location.origin +
      '? (docs/configuration.md, "The admin page")';
    output.dataset.status = 'error';
  }
}

function operationView(doc, path, method, operation) {
  const parameters = operation.parameters || [];
  const body = operation.requestBody && operation.requestBody.content && operation.requestBody.content['application/json'];
  const form = el('form', { class: 'try' });
  for (const parameter of parameters) {
    form.append(el('label', {}, el('code', {}, parameter.name), ' (', parameter.in, parameter.required ? ', required' : '', ') ',
      typeOf(doc, parameter.schema || {}), ' ',
      el('input', { name: 'param-' + parameter.name, required: !!parameter.required, spellcheck: false }),
      parameter.description ? el('span', { class: 'muted' }, ' ', parameter.description) : null));
  }
  if (body) {
    form.append(el('div', {}, 'Body: ', typeOf(doc, body.schema || {})), schemaTree(doc, body.schema || {}, 2),
      el('textarea', { name: 'body', spellcheck: false, value: JSON.stringify(skeleton(doc, body.schema || {}, 2), null, 2) }));
  }
  form.append(el('label', {}, 'Authorization ', el('input', { name: 'authorization', size: 40, placeholder: 'Bearer …', autocomplete: 'off' })));
  const output = el('pre', { class: 'response', hidden: true });
  form.append(el('button', { type: 'submit' }, 'Send'), output);
  form.addEventListener('submit', event => {
    event.preventDefault();
    output.hidden = false;
    send(form, output, requestOf(form, path, method, parameters, !!body));
  });
  const verb = method.toUpperCase();
  return el('details', { class: 'operation', 'data-operation': operation.operationId || verb + ' ' + path },
    el('summary', {}, el('span', { class: 'verb verb-' + method }, verb), ' ', el('code', {}, path), ' ',
      el('span', { class: 'muted' }, operation.summary || '')),
    operation.description ? el('p', {}, operation.description) : null,
    form);
}

function renderReference(doc) {
  const box = document.getElementById('reference');
  if (!doc) {
    box.replaceChildren('the OpenAPI document is not served here (openapi.serve_on)');
    return;
  }
  const tags = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
      const operation = item[method];
      if (!operation) continue;
      const tag = (operation.tags && operation.tags[0]) || 'untagged';
      if (!tags.has(tag)) tags.set(tag, []);
      tags.get(tag).push(operationView(doc, path, method, operation));
    }
  }
  const sections = [...tags.entries()].map(([tag, operations]) =>
    el('details', { class: 'tag', open: true }, el('summary', {}, tag, el('span', { class: 'muted' }, ' · ' + operations.length + ' operations')), operations));
  box.className = '';
  box.replaceChildren(el('p', {}, doc.info ? doc.info.title + ' ' + doc.info.version : ''), ...sections);
}

// ---- polling ----------------------------------------------------------

async function poll() {
  try {
    const [routes, upstreams, prometheus, status] = await Promise.all(
      ['/routes', '/upstreams', '/metrics', '/config'].map(path => admin(path)));
    renderUpstreams(upstreams || []);
    renderRoutes(routes || [], prometheus);
    renderReload(status);
    const now = status ? status.generation : 0;
    if (generation !== now) {
      renderReference(await admin('/openapi.json'));
      generation = now;
    }
    document.getElementById('token-form').hidden = true;
    setStatus('updated ' + new Date().toLocaleTimeString(), false);
  } catch (error) {
    setStatus(error instanceof Unauthorized ? error.message : 'cannot reach the admin API: ' + error.message, true);
  }
}

function start() {
  if (location.hash.startsWith('#token=')) {
    token = decodeURIComponent(location.hash.slice('#token='.length));
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
  }
  const api = document.getElementById('api-base');
  const asked = new URLSearchParams(location.search).get('api');
  api.value = asked || localStorage.getItem(API_KEY) || location.protocol + '//' + location.hostname + ':8080';
  api.addEventListener('change', () => localStorage.setItem(API_KEY, api.value));
  document.getElementById('token-form').addEventListener('submit', event => {
    event.preventDefault();
    token = document.getElementById('token-input').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    poll();
  });
  poll();
  setInterval(poll, POLL_MS);
}

start();
