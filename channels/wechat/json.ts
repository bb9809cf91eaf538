/** WeChat's JSON, whose ids (msgid, MsgID) are 64-bit integers. */

/** `JSON.parse`, with integers too long for a double kept as strings of all their digits. */
export function parseWechatJson(text: string): unknown {
  return JSON.parse(quoteBigIntegers(text));
}

/**
 * JSON text with integers too long for a double (WeChat msgids are 64-bit) turned into strings, so
 * `JSON.parse` keeps every digit. Walks the text so that digits inside strings are left alone.
 */
function quoteBigIntegers(json: string): string {
  if (!/\d{16}/.test(json)) return json;
  let out = '';
  let from = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      for (i++; i < json.length && json[i] !== '"'; i++) if (json[i] === '\\') i++;
    } else if ((c >= '0' && c <= '9') || c === '-') {
      let end = i + 1;
      while (end < json.length && /[0-9.eE+-]/.test(json[end])) end++;
      const number = json.slice(i, end);
      if (/^-?\d{16,}$/.test(number)) {
        out += `${json.slice(from, i)}"${number}"`;
        from = end;
      }
      i = end - 1;
    }
  }
  return out + json.slice(from);
}
