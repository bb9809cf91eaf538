import { type Node, parse, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import type { RuleFault } from '../rules/types.ts';

/** What a JSON syntax error says, in words (jsonc-parser's codes). */
const SYNTAX: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'not a valid number',
  PropertyNameExpected: 'expected a property name in double quotes (a trailing comma?)',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: 'unexpected text after the document',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'comments are not allowed in JSON',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'control character in a string (escape it)',
};

/** 1-based line and column of an offset in a text. */
function positionAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/**
 * A workspace document's text, parsed: the document, or the syntax fault with its line and column
 * (the first one: what follows a syntax error is guesswork).
 */
export function parseDocumentText(text: string): { doc: unknown } | { fault: RuleFault } {
  try {
    return { doc: JSON.parse(text) };
  } catch (error) {
    const errors: ParseError[] = [];
    parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    if (!first) return { fault: { pointer: '', message: `not valid JSON: ${(error as Error).message}` } };
    const at = positionAt(text, first.offset);
    const what = SYNTAX[printParseErrorCode(first.error)];
    return {
      fault: {
        pointer: '',
        message: `not valid JSON: ${what ?? 'syntax error'} (line ${at.line}, column ${at.column})`,
        ...at,
      },
    };
  }
}

/** A JSON pointer's tokens (RFC 6901). */
function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The deepest node of the tree on a pointer's way (the value itself when it exists). */
function deepestNode(root: Node, pointer: string): Node {
  let node = root;
  for (const token of tokens(pointer)) {
    const next =
      node.type === 'array'
        ? /^\d+$/.test(token)
          ? node.children?.[Number(token)]
          : undefined
        : node.type === 'object'
          ? node.children?.find((p) => p.children?.[0]?.value === token)?.children?.[1]
          : undefined;
    if (!next) break;
    node = next;
  }
  return node;
}

/**
 * Faults placed in the document's text: each gets the line and column of the value its pointer
 * names (of the property's name for an object member), or of the nearest enclosing value that exists
 * (a required field that is missing is shown at its object).
 */
export function locateFaults(text: string, faults: readonly RuleFault[]): RuleFault[] {
  const root = parseTree(text);
  if (!root) return [...faults];
  return faults.map((fault) => {
    if (fault.line !== undefined) return fault;
    const node = deepestNode(root, fault.pointer);
    const at = node.parent?.type === 'property' ? node.parent : node;
    return { ...fault, ...positionAt(text, at.offset) };
  });
}

/** A fault as compilers and editors print one: `file:line:column: pointer: message`. */
export function formatFault(file: string, fault: RuleFault): string {
  const at = fault.line === undefined ? '' : `${fault.line}:${fault.column}: `;
  return `${file}:${at}${fault.pointer || '/'}: ${fault.message}`;
}
