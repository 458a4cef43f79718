// The README's waterfalls captured from the real controllers (test/conformance/timeline.test.ts writes them with
// FLUX_MONITOR_TIMELINE_CAPTURE=1; test/ui/timeline-capture.test.ts checks their shape). Their markers are not
// the demo captures' (`capture:`, compared with a fresh demo run): these come from a real cluster and are only
// checked for their shape. Pure.

export const TIMELINE_CAPTURES = ['timeline-auto-reconcile', 'timeline-flux-alone'] as const;

const block = (id: string) => new RegExp(`^(<!-- real-capture:${id}\\b[^\\n]*-->\\n)([\\s\\S]*?)^<!-- /real-capture -->$`, 'm');

/** The text of the block `id` (without its fence), or undefined. */
export function readTimelineCapture(markdown: string, id: string): string | undefined {
  const m = block(id).exec(markdown);
  if (!m) return undefined;
  const fenced = /^```\n([\s\S]*?)\n?```\n$/.exec(m[2]!);
  return fenced ? fenced[1]! : undefined;
}

/** `markdown` with the block `id` holding `text` (the block must be there). */
export function writeTimelineCapture(markdown: string, id: string, text: string): string {
  if (!block(id).test(markdown)) throw new Error(`no real-capture block ${id}`);
  return markdown.replace(block(id), (_all, marker: string) => `${marker}\`\`\`\n${text}\n\`\`\`\n<!-- /real-capture -->`);
}
