import { stopPostgres } from './postgres-server';
import { endScratchRun } from './scratch';
import { stopServices } from './services';

/** Stops the services (PostgreSQL included) globalSetup started and removes the run's scratch folder. */
export default async function globalTeardown(): Promise<void> {
  stopServices();
  stopPostgres();
  endScratchRun();
}
