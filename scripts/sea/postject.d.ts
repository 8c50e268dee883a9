/** postject 1.0.0-alpha.6 ships no types: the one function scripts/build-binary.ts calls (its dist/api.js). */
declare module 'postject' {
  export function inject(
    filename: string,
    resourceName: string,
    resourceData: Uint8Array,
    options?: { sentinelFuse?: string; overwrite?: boolean; machoSegmentName?: string },
  ): Promise<void>;
}
