import path from 'node:path';

// Turns an uploaded file into plain text with maintained parsers: unpdf (PDF.js) for PDF, mammoth for
// .docx, html-to-text for HTML. Markdown and text are indexed as written (headings and lists read fine).

export const DOCUMENT_TYPES = {
  md: 'text/markdown',
  txt: 'text/plain',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  html: 'text/html',
} as const;
export type DocumentKind = keyof typeof DOCUMENT_TYPES;

const BY_MIME: Record<string, DocumentKind> = {
  ...Object.fromEntries(Object.entries(DOCUMENT_TYPES).map(([k, v]) => [v, k as DocumentKind])),
  'text/x-markdown': 'md',
  'application/xhtml+xml': 'html',
};
const BY_EXT: Record<string, DocumentKind> = { md: 'md', markdown: 'md', txt: 'txt', text: 'txt', pdf: 'pdf', docx: 'docx', html: 'html', htm: 'html' };

export class UnsupportedDocumentType extends Error {}
export class UnreadableDocument extends Error {}

/**
 * The kind of document from its file name's extension, else its Content-Type. Generic types
 * (application/octet-stream) defer to the extension; an unknown one is refused naming what was seen.
 */
export function documentKind(name: string, contentType: string | undefined): DocumentKind {
  const ext = path.extname(name).slice(1).toLowerCase();
  if (ext && BY_EXT[ext]) return BY_EXT[ext];
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (BY_MIME[mime]) return BY_MIME[mime];
  const seen = [ext && `.${ext}`, mime && mime !== 'application/octet-stream' ? mime : ''].filter(Boolean).join(', ') || 'no extension or Content-Type';
  throw new UnsupportedDocumentType(`unsupported document type (${seen}): upload .md, .txt, .pdf, .docx or .html`);
}

/** Plain text of a document, with Windows line ends and NULs (which Postgres text refuses) removed. */
export async function parseDocument(kind: DocumentKind, data: Uint8Array): Promise<string> {
  let text: string;
  try {
    text = await PARSERS[kind](data);
  } catch (err) {
    throw new UnreadableDocument(`cannot read this ${kind} file: ${(err as Error).message}`);
  }
  return text.replace(/\r\n?/g, '\n').replace(/\u0000/g, '').trim();
}

const utf8 = (data: Uint8Array) => new TextDecoder('utf-8').decode(data).replace(/^\uFEFF/, '');

const PARSERS: Record<DocumentKind, (data: Uint8Array) => Promise<string>> = {
  md: async (data) => utf8(data),
  txt: async (data) => utf8(data),
  html: async (data) => {
    const { convert } = await import('html-to-text');
    // links and images add URLs the question never contains; headings keep their case
    return convert(utf8(data), {
      wordwrap: false,
      selectors: [
        { selector: 'a', options: { ignoreHref: true } },
        { selector: 'img', format: 'skip' },
        { selector: 'h1', options: { uppercase: false } },
        { selector: 'h2', options: { uppercase: false } },
        { selector: 'h3', options: { uppercase: false } },
        { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
      ],
    });
  },
  pdf: async (data) => {
    const { extractText, getDocumentProxy } = await import('unpdf');
    // PDF.js takes ownership of the buffer it is given: pass a copy
    const pdf = await getDocumentProxy(new Uint8Array(data));
    try {
      const { text } = await extractText(pdf, { mergePages: false });
      return text.join('\n\n');
    } finally {
      await pdf.destroy();
    }
  },
  docx: async (data) => {
    const mammoth = await import('mammoth');
    const { value } = await mammoth.extractRawText({ buffer: Buffer.from(data) });
    return value;
  },
};
