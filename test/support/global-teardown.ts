import { endScratchRun } from './scratch';
import { stopServices } from './services';

/** Stops the services globalSetup started and removes the run's scratch folder. */
export default async function globalTeardown(): Promise<void> {
  stopServices();
  endScratchRun();
}
