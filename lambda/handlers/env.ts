/** The environment of the Lambda entries (no dependencies, so any entry may import it cheaply). */

/** A required environment variable; throws at start (not per request) when it is missing. */
export function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}
