import { Command } from 'commander';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { action, say } from './cli-support.js';
import { credentialsPath, readCredentials, removeCredentials, writeCredentials } from './credentials.js';
import { DEFAULT_URL, FrontDoorClient, normaliseUrl } from './front-door-client.js';

/** Asks on standard error and reads answers from standard input, one line each; the token is not echoed. */
async function ask(questions: readonly { prompt: string; secret?: boolean }[]): Promise<string[]> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: Boolean(process.stdin.isTTY) });
  const lines = rl[Symbol.asyncIterator]();
  const answers: string[] = [];
  try {
    for (const { prompt, secret } of questions) {
      output.write(prompt);
      muted = Boolean(secret);
      const { value, done } = await lines.next();
      muted = false;
      if (secret) output.write('\n');
      answers.push(done ? '' : String(value).trim());
    }
  } finally {
    rl.close();
  }
  return answers;
}

const loginCommand = () =>
  new Command('login')
    .description(`ask for a server and a token, check them, save them for the other commands (${credentialsPath()})`)
    .option('--url <url>', 'the server (asked for otherwise; env FAILSAFE_URL)')
    .action(
      action(async (flags: { url?: string }) => {
        const suggested = flags.url ?? (process.env.FAILSAFE_URL || readCredentials()?.url || DEFAULT_URL);
        const questions = [
          ...(flags.url ? [] : [{ prompt: `Failsafe server [${suggested}]: ` }]),
          { prompt: 'Token (fs_...): ', secret: true },
        ];
        const answers = await ask(questions);
        const token = answers.at(-1) ?? '';
        const url = normaliseUrl(flags.url ?? (answers[0] || suggested));
        const usage = 'no token given; `failsafe token new` makes one, an admin configures it';
        if (!token) throw Object.assign(new Error(usage), { code: 'USAGE' });
        await new FrontDoorClient(url, token).call('list_services');
        writeCredentials({ url, token });
        say(`${url} accepts this token; saved to ${credentialsPath()} (readable by you only)`);
        say('`failsafe logout` removes it');
      }),
    );

const logoutCommand = () =>
  new Command('logout').description('remove the saved server and token').action(
    action(async () => {
      say(removeCredentials() ? `removed ${credentialsPath()}` : `no saved credentials (${credentialsPath()})`);
    }),
  );

export const loginCommands = (): Command[] => [loginCommand(), logoutCommand()];
