/**
 * The browsable API page, rendered on the server from the OpenAPI document. Self-contained (no
 * CDN scripts or styles) so it works offline and behind firewalls; the JSON document at
 * /openapi/json is there for Postman, Scalar, Swagger UI or code generators.
 */

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** `code` spans in descriptions, everything else as text. */
const inline = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

const json = (value: unknown) => `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;

/** What the page reads of the OpenAPI document. */
export interface PageDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, unknown>>;
}

interface PageOperation {
  summary?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown; examples?: Record<string, { value: unknown }> }> }>;
  security?: Record<string, string[]>[];
}

function accessNote(security: PageOperation['security']): string {
  if (!security || security.length === 0) return '<span class="access public">no token needed</span>';
  if (security.some((requirement) => Object.keys(requirement).length === 0)) return '<span class="access optional">token optional</span>';
  return '<span class="access bearer">Authorization: Bearer &lt;token&gt;</span>';
}

function renderParameters(parameters: NonNullable<PageOperation['parameters']>): string {
  const rows = parameters
    .map(
      (parameter) =>
        `<tr><td><code>${escapeHtml(parameter.name)}</code></td><td>${escapeHtml(parameter.in)}</td><td>${parameter.required ? 'required' : 'optional'}</td><td><code>${escapeHtml(JSON.stringify(parameter.schema ?? {}))}</code></td></tr>`,
    )
    .join('');
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th></th><th>schema</th></tr>${rows}</table>`;
}

function renderResponses(responses: NonNullable<PageOperation['responses']>): string {
  return Object.entries(responses)
    .map(([status, response]) => {
      const [contentType, media] = Object.entries(response.content ?? {})[0] ?? [];
      const examples = Object.entries(media?.examples ?? {})
        .map(([name, example]) => `<div class="example"><span>${escapeHtml(name)}</span>${json(example.value)}</div>`)
        .join('');
      const body = examples || (media?.schema ? json(media.schema) : '');
      const statusClass = Number(status) < 400 ? 'ok' : 'err';
      return `<details class="response"><summary><b class="${statusClass}">${escapeHtml(status)}</b> ${inline(response.description ?? '')}${contentType ? ` <small>${escapeHtml(contentType)}</small>` : ''}</summary>${body}</details>`;
    })
    .join('');
}

function renderOperation(method: string, path: string, operation: PageOperation): string {
  const body = operation.requestBody?.content['application/json']?.schema;
  return `<details class="operation" id="${escapeHtml(`${method}-${path}`)}">
<summary><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code class="path">${escapeHtml(path)}</code> <span class="summary">${inline(operation.summary ?? '')}</span></summary>
<p>${accessNote(operation.security)}</p>
${operation.parameters?.length ? renderParameters(operation.parameters) : ''}
${body ? `<h4>Request body <small>application/json</small></h4>${json(body)}` : ''}
<h4>Responses</h4>${renderResponses(operation.responses ?? {})}
</details>`;
}

export function renderOpenApiPage(document: PageDocument, specPath: string): string {
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ method, path, operation: operation as PageOperation })),
  );
  const tagNames = [...new Set([...document.tags.map((tag) => tag.name), ...operations.flatMap(({ operation }) => operation.tags ?? ['Other'])])];
  const sections = tagNames
    .map((tag) => {
      const inTag = operations.filter(({ operation }) => (operation.tags ?? ['Other']).includes(tag));
      if (inTag.length === 0) return '';
      const tagDescription = document.tags.find((entry) => entry.name === tag)?.description;
      return `<section><h2>${escapeHtml(tag)}${tagDescription ? ` <small>${escapeHtml(tagDescription)}</small>` : ''}</h2>${inTag
        .map(({ method, path, operation }) => renderOperation(method, path, operation))
        .join('\n')}</section>`;
    })
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem 4rem; color: #1d1d1f; }
  h1 small, h2 small { font-weight: normal; color: #666; font-size: 0.6em; }
  pre { background: #f5f5f7; padding: 0.6rem 0.8rem; overflow-x: auto; font-size: 13px; border-radius: 6px; }
  code { font-size: 0.92em; }
  details.operation { border: 1px solid #ddd; border-radius: 8px; margin: 0.5rem 0; padding: 0.4rem 0.8rem; }
  details.operation > summary { cursor: pointer; }
  details.response { margin: 0.2rem 0 0.2rem 1rem; }
  .method { display: inline-block; min-width: 4.5rem; text-align: center; font-weight: bold; color: #fff; border-radius: 4px; font-size: 13px; padding: 0 0.3rem; }
  .get { background: #0a7d47; } .post { background: #0057b8; } .patch { background: #a15c00; } .delete { background: #b3261e; } .put { background: #6b3fa0; }
  .summary { color: #444; }
  .ok { color: #0a7d47; } .err { color: #b3261e; }
  .access { font-size: 13px; padding: 0 0.4rem; border-radius: 4px; background: #eef; }
  table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; font-size: 14px; }
  .example span { font-size: 13px; color: #666; }
  .intro { white-space: pre-line; }
</style>
</head>
<body>
<h1>${escapeHtml(document.info.title)} <small>${escapeHtml(document.info.version)} · OpenAPI ${escapeHtml(document.openapi)}</small></h1>
<p class="intro">${inline(document.info.description)}</p>
<p>Machine-readable document: <a href="${escapeHtml(specPath)}"><code>${escapeHtml(specPath)}</code></a> (import it into Postman, Insomnia, Scalar or Swagger UI).</p>
${sections}
</body>
</html>`;
}
