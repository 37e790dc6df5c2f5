import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '../config/serve-config.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { action, withDataDir } from './cli-support.js';

/** The fleet's instances outlive `serve` on purpose (the next one adopts them); this ends them for good. */
export const fleetStopCommand = (): Command =>
  new Command('fleet').description('the process-driven fleet that serve supervises').addCommand(
    withDataDir(new Command('stop'))
      .description(
        'stops every fleet instance that serve started from this data folder (run it after serve has stopped)',
      )
      .action(
        action(async (options: { dataDir?: string }) => {
          const dataDir = resolve(options.dataDir ?? process.env.FAILSAFE_DATA_DIR ?? DEFAULT_DATA_DIR);
          const stopped = await ProcessDriver.stopAllRecorded(join(dataDir, 'fleet'), (line) =>
            process.stdout.write(`${line}\n`),
          );
          process.stdout.write(`${stopped} fleet instance${stopped === 1 ? '' : 's'} stopped\n`);
        }),
      ),
  );
