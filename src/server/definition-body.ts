/**
 * The JSON-schema properties of a definition in a request body, shared by
 * POST /apps (deploy) and POST /ui/validate (draw without deploying).
 */
export const definitionBodyProperties = {
  definition: { type: 'string', minLength: 1, description: 'template or JSON text, or base64 of the 54,008-byte binary struct' },
  encoding: { type: 'string', enum: ['text', 'base64'], default: 'text' },
} as const;
