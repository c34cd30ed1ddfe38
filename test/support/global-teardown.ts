import { stopServices } from './services';

/** Stops the services globalSetup started. */
export default async function globalTeardown(): Promise<void> {
  stopServices();
}
