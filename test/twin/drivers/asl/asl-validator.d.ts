/**
 * Types of asl-validator 4 (the package ships none): its default export, as its README shows,
 * `const { isValid, errors, errorsText } = aslValidator(definition)`.
 */
declare module 'asl-validator' {
  interface ValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly { readonly message?: string; readonly 'Error code'?: string; readonly path?: string }[];
    errorsText(separator?: string): string;
  }
  function aslValidator(definition: unknown, options?: { checkPaths?: boolean; checkArn?: boolean }): ValidationResult;
  export = aslValidator;
}
