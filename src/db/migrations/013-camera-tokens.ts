/**
 * Camera tokens: the credential in the camera URLs given to OctoPrint clients instead of their
 * API key (accounts/camera-tokens.ts). Stored by digest; removed with the key they came from.
 */
export const m013_camera_tokens = `
CREATE TABLE camera_tokens (
  digest     TEXT PRIMARY KEY,
  api_key_id TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  printer_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX camera_tokens_key ON camera_tokens(api_key_id);
`;
