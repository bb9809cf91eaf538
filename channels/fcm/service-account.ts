/** The fields of a Google service account key file that the FCM client uses. */
export interface ServiceAccount {
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  token_uri?: string;
}

export const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** Reads a service account key file (its JSON text or the parsed object) and checks the fields are there. */
export function parseServiceAccount(input: string | ServiceAccount): ServiceAccount {
  const account: unknown = typeof input === 'string' ? JSON.parse(input) : input;
  if (typeof account !== 'object' || account === null) throw new Error('service account: not an object');
  const fields = account as Record<string, unknown>;
  for (const key of ['project_id', 'private_key_id', 'private_key', 'client_email'])
    if (typeof fields[key] !== 'string' || fields[key] === '')
      throw new Error(`service account: ${key} is missing`);
  if (fields.token_uri !== undefined && typeof fields.token_uri !== 'string')
    throw new Error('service account: token_uri is not a string');
  return account as ServiceAccount;
}
