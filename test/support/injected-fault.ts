/** The error tests inject into workflow steps: not a name any Retry matches, so it always compensates. */
export class InjectedFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectedFault';
  }
}
