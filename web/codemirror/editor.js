// @ts-check
/**
 * The console's code editor: CodeMirror 6 for JSON documents, with completion from the document's
 * JSON Schema and the engine's own faults shown inline. CodeMirror is a set of packages with bare
 * imports, so this module is bundled at build time (scripts/console-vendor.mjs) into
 * `web/vendor/editor.js`, which the console loads when an editor opens.
 */
import { basicSetup, EditorView } from 'codemirror';
import { json, jsonLanguage } from '@codemirror/lang-json';
import { forceLinting, linter, lintGutter } from '@codemirror/lint';
import { syntaxTree } from '@codemirror/language';
import { MergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { getJsonPointers, jsonCompletion, stateExtensions } from 'codemirror-json-schema';

/** @typedef {{ pointer: string, message: string, line?: number, column?: number }} Fault */

/**
 * @typedef {{
 *   text(): string,
 *   setText(text: string): void,
 *   revealPointer(pointer: string): boolean,
 *   revalidate(): void,
 *   destroy(): void,
 * }} CodeEditor
 */

/**
 * Where a fault's line and column fall, spanning the token there (a property name, a value).
 * @param {import('@codemirror/state').EditorState} state
 * @param {Fault} fault
 */
function rangeOf(state, fault) {
  if (fault.line === undefined) return { from: 0, to: Math.min(1, state.doc.length) };
  const line = state.doc.line(Math.min(Math.max(fault.line, 1), state.doc.lines));
  const from = Math.min(line.from + Math.max((fault.column ?? 1) - 1, 0), line.to);
  const node = syntaxTree(state).resolveInner(from, 1);
  const to = node.from === from && node.to > from && node.to <= line.to ? node.to : line.to;
  return { from, to: Math.max(to, Math.min(from + 1, state.doc.length)) };
}

/**
 * @param {HTMLElement} parent
 * @param {{
 *   text: string,
 *   schema: object,
 *   validate: (text: string) => Promise<Fault[]>,
 *   onChange: (text: string) => void,
 *   readOnly?: boolean,
 * }} options
 * @returns {CodeEditor}
 */
export function codeEditor(parent, options) {
  const faults = linter(
    async (view) => {
      const text = view.state.doc.toString();
      const found = await options.validate(text);
      // The document changed while the engine was checking it: these faults are for an older text.
      if (view.state.doc.toString() !== text) return [];
      return found.map((fault) => ({
        ...rangeOf(view.state, fault),
        severity: /** @type {const} */ ('error'),
        message: fault.pointer ? `${fault.pointer}: ${fault.message}` : fault.message,
      }));
    },
    { delay: 400 },
  );
  const view = new EditorView({
    parent,
    doc: options.text,
    extensions: [
      basicSetup,
      json(),
      jsonLanguage.data.of({ autocomplete: jsonCompletion() }),
      stateExtensions(/** @type {Parameters<typeof stateExtensions>[0]} */ (options.schema)),
      faults,
      lintGutter(),
      EditorView.editable.of(!options.readOnly),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) options.onChange(update.state.doc.toString());
      }),
    ],
  });
  return {
    text: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    revealPointer(pointer) {
      const at = getJsonPointers(view.state, 'json4').get(pointer);
      if (!at) return false;
      // An array item has no key: its range is the value's.
      const from = at.keyFrom;
      const to = 'valueTo' in at ? at.valueTo : at.keyTo;
      view.dispatch({
        selection: { anchor: from, head: to },
        effects: EditorView.scrollIntoView(from, { y: 'start', yMargin: 40 }),
      });
      view.focus();
      return true;
    },
    revalidate: () => forceLinting(view),
    destroy: () => view.destroy(),
  };
}

/**
 * Two texts side by side, what changed marked, unchanged stretches collapsed; read-only.
 * @param {HTMLElement} parent
 * @param {string} before
 * @param {string} after
 * @returns {{ destroy(): void }}
 */
export function diffView(parent, before, after) {
  const readOnly = [basicSetup, json(), EditorState.readOnly.of(true), EditorView.editable.of(false)];
  return new MergeView({
    parent,
    a: { doc: before, extensions: readOnly },
    b: { doc: after, extensions: readOnly },
    collapseUnchanged: { margin: 2, minSize: 4 },
    gutter: true,
  });
}
