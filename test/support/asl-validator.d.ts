/** asl-validator ships no type declarations. */
declare module 'asl-validator' {
  interface AslValidation {
    isValid: boolean;
    errors: unknown[];
    errorsText(separator?: string): string;
  }
  export default function aslValidator(definition: unknown, options?: Record<string, unknown>): AslValidation;
}
