/** The decision of what to do about missing test tools: install with apt, or stop with one command. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MissingToolsError, REQUIRED_TOOLS, isInstalled, onPath, planProvisioning, postgresBinDirs, provisionTools, type RequiredTool } from './provision';
import { scratchDir } from './scratch';

const REDIS: RequiredTool = { command: 'redis-server', aptPackage: 'redis-server' };
const OPENSSL: RequiredTool = { command: 'openssl', aptPackage: 'openssl' };
const MOTO: RequiredTool = { command: 'moto_server', manualInstall: "pip install 'moto[server]==5.2.1'" };
const ROOT_WITH_APT = { isRoot: true, hasAptGet: true };

describe('planProvisioning', () => {
  it('does nothing when every tool is present', () => {
    // Act
    const plan = planProvisioning([], { isRoot: false, hasAptGet: false });
    // Assess
    expect(plan).toEqual({ action: 'ready' });
  });

  it('installs the missing Debian packages when root with apt-get', () => {
    // Act
    const plan = planProvisioning([REDIS, OPENSSL], ROOT_WITH_APT);
    // Assess
    expect(plan).toEqual({ action: 'install', aptPackages: ['redis-server', 'openssl'] });
  });

  it('names the sudo command when apt-get exists but we are not root', () => {
    // Act
    const plan = planProvisioning([REDIS], { isRoot: false, hasAptGet: true });
    // Assess
    expect(plan).toEqual({
      action: 'stop',
      message: 'The test suite needs redis-server, not found on PATH. Run: sudo apt-get install -y redis-server',
    });
  });

  it('names the package when there is no apt-get', () => {
    // Act
    const plan = planProvisioning([REDIS], { isRoot: true, hasAptGet: false });
    // Assess
    expect(plan).toEqual({
      action: 'stop',
      message: 'The test suite needs redis-server, not found on PATH. Run: (with your package manager; on Debian: apt-get install -y redis-server)',
    });
  });

  it('installs nothing and names every command when a tool apt cannot install is missing too', () => {
    // Act
    const plan = planProvisioning([REDIS, MOTO], ROOT_WITH_APT);
    // Assess
    expect(plan).toEqual({
      action: 'stop',
      message: "The test suite needs redis-server, moto_server, not found on PATH. Run: apt-get install -y redis-server && pip install 'moto[server]==5.2.1'",
    });
  });

  it('gives one line', () => {
    // Act
    const plan = planProvisioning([...REQUIRED_TOOLS], ROOT_WITH_APT);
    // Assess
    expect(plan.action).toBe('stop');
    expect(plan.action === 'stop' && plan.message.includes('\n')).toBe(false);
  });
});

describe('onPath', () => {
  it('finds an executable file and ignores a non-executable one', () => {
    // Prepare
    const dir = scratchDir('provision-path-');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tool-x'), '#!/bin/sh\n');
    chmodSync(join(dir, 'tool-x'), 0o755);
    writeFileSync(join(dir, 'tool-y'), 'data');
    chmodSync(join(dir, 'tool-y'), 0o644);
    // Act / Assess
    expect(onPath('tool-x', `/nonexistent::${dir}`)).toBe(true);
    expect(onPath('tool-y', dir)).toBe(false);
    expect(onPath('tool-z', dir)).toBe(false);
  });
});

describe('isInstalled', () => {
  it('finds a program off PATH in the folders the tool names', () => {
    // Prepare: a tool kept off PATH, as Debian keeps initdb under /usr/lib/postgresql/<major>/bin.
    const dir = scratchDir('provision-also-');
    writeFileSync(join(dir, 'tool-off-path'), '#!/bin/sh\n');
    chmodSync(join(dir, 'tool-off-path'), 0o755);
    const tool: RequiredTool = { command: 'tool-off-path', aptPackage: 'tool', alsoIn: () => [dir] };
    // Act / Assess
    expect(onPath('tool-off-path', '/nonexistent')).toBe(false);
    expect(isInstalled(tool, '/nonexistent')).toBe(true);
    expect(isInstalled({ command: 'tool-off-path' }, '/nonexistent')).toBe(false);
  });
});

describe('postgresBinDirs', () => {
  it('lists the version folders highest first, ignoring what is not a version', () => {
    // Prepare
    const base = scratchDir('provision-pglib-');
    for (const name of ['9.6', '15', '13', 'common']) mkdirSync(join(base, name, 'bin'), { recursive: true });
    // Act
    const dirs = postgresBinDirs(base);
    // Assess
    expect(dirs).toEqual([join(base, '15', 'bin'), join(base, '13', 'bin'), join(base, '9.6', 'bin')]);
  });

  it('gives none when PostgreSQL is not installed there', () => {
    // Act / Assess
    expect(postgresBinDirs(join(scratchDir('provision-nopg-'), 'absent'))).toEqual([]);
  });
});

describe('provisionTools', () => {
  it('throws a MissingToolsError whose whole report is the one line, for a tool apt cannot install', () => {
    // Prepare
    const missing: RequiredTool = { command: 'rekey-no-such-tool', manualInstall: 'pip install rekey-no-such-tool' };
    // Act
    let error: unknown;
    try {
      provisionTools([missing]);
    } catch (err) {
      error = err;
    }
    // Assess
    expect(error).toBeInstanceOf(MissingToolsError);
    expect((error as Error).stack).toBe('The test suite needs rekey-no-such-tool, not found on PATH. Run: pip install rekey-no-such-tool');
  });

  it('returns when every required tool of this machine is present', () => {
    // Act / Assess: globalSetup ran it already, so the machine has them.
    expect(() => provisionTools()).not.toThrow();
  });
});
