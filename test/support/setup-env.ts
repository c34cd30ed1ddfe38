/** Per-test-file setup: the SDK's Node 20 support notice says nothing about a test; keep it out of the output. */
import { quietSdkNodeVersionWarning } from '../../cli/quiet-warnings';

quietSdkNodeVersionWarning();
