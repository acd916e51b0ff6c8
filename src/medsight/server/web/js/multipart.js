// multipart/related bodies (PS3.18 8.6.1.2): split WADO-RS answers, build STOW-RS requests.

const CRLF = [13, 10];

function boundaryOf(contentType) {
  const match = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!match) throw new Error("multipart answer without a boundary");
  return match[1];
}

function ascii(text) {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function indexOf(haystack, needle, from) {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** The bodies of each part (headers dropped), as ArrayBuffers, in order. */
export function parseMultipart(buffer, contentType) {
  const bytes = new Uint8Array(buffer);
  const delimiter = ascii(`--${boundaryOf(contentType)}`);
  const headerEnd = Uint8Array.from([...CRLF, ...CRLF]);
  const parts = [];
  let at = indexOf(bytes, delimiter, 0);
  while (at >= 0) {
    const afterDelimiter = at + delimiter.length;
    if (bytes[afterDelimiter] === 45 && bytes[afterDelimiter + 1] === 45) break; // closing "--"
    const headersEnd = indexOf(bytes, headerEnd, afterDelimiter);
    if (headersEnd < 0) break;
    const start = headersEnd + 4;
    const headers = new TextDecoder("ascii").decode(bytes.subarray(afterDelimiter, headersEnd));
    const length = /content-length:\s*(\d+)/i.exec(headers);
    let end;
    if (length) {
      end = start + Number(length[1]);
    } else {
      const next = indexOf(bytes, delimiter, start);
      end = next < 0 ? bytes.length : next - 2; // the CRLF before the next delimiter
    }
    parts.push(buffer.slice(start, end));
    at = indexOf(bytes, delimiter, end);
  }
  return parts;
}

/** A STOW-RS body for some files: {body: Blob, contentType}. */
export function stowBody(files) {
  const boundary = `medsight-${crypto.randomUUID()}`;
  const chunks = [];
  for (const file of files) {
    chunks.push(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, file, "\r\n");
  }
  chunks.push(`--${boundary}--\r\n`);
  return {
    body: new Blob(chunks),
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
  };
}
