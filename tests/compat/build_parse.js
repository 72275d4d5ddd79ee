'use strict';
// A Dockerfile islet cannot build is refused at create with a 400 whose
// message names the line and what is wrong, through the official SDK (its
// DaytonaError carries islet's reason), before anything is made: no
// sandbox is listed after, no snapshot either.  snapshot.create from such
// an Image is refused the same way.  A Dockerfile islet can build is still
// taken (the create answers, the sandbox starts).
const { assert, sdk, client, RUN, main } = require('./lib');

main('build_parse', async () => {
  const daytona = client();
  const base = process.env.ISLET_COMPAT_IMAGE;
  const cases = [
    [['FROBNICATE now'], /line 2: `FROBNICATE` is not an instruction islet builds/],
    [['ONBUILD RUN true'], /line 2: ONBUILD is not supported: triggers for later builds are not supported/],
    [['HEALTHCHECK --interval=often CMD true'], /line 2: HEALTHCHECK --interval=often: `often` is not a duration/],
    [['RUN true', 'RUN --mount=type=cache,target=/root/.cache pip install x'],
      /line 3: RUN flags \(--mount=type=cache,target=\/root\/.cache\) are not supported/],
    [['COPY --from=builder /app /app'], /line 2: COPY --from=builder: multi-stage builds are not supported/],
    [['ENV A="open'], /line 2: ENV: a quote is not closed/],
    [['ARG 9LIVES=1'], /line 2: ARG `9LIVES`: a name is letters, digits and `_`/],
    [['FROM other'], /line 2: a second FROM: multi-stage builds are not supported/],
    [[`RUN echo ${'x'.repeat(70 * 1024)}`], /line 2: the instruction is more than 65536 bytes long/],
  ];
  for (const [lines, want] of cases) {
    const image = sdk.Image.base(base).dockerfileCommands(lines);
    await assert.rejects(daytona.create({ image, labels: { run: RUN } }, { timeout: 30 }), (e) => {
      assert.ok(e instanceof sdk.DaytonaError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.statusCode, 400, `${lines[0].slice(0, 40)}: ${e.statusCode} ${e.message}`);
      assert.match(e.message, /buildInfo\.dockerfileContent: /);
      assert.match(e.message, want);
      return true;
    });
  }
  const left = [];
  for await (const s of daytona.list({ labels: { run: RUN } })) left.push(`${s.id} ${s.state}`);
  assert.deepEqual(left, [], 'a refused Dockerfile left a sandbox');

  const bad = sdk.Image.base(base).dockerfileCommands(['VOLUME /data']);
  await assert.rejects(daytona.snapshot.create({ name: `parse-${RUN}`, image: bad }, { timeout: 30 }), (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `${e.constructor.name}: ${e.message}`);
    assert.match(e.message, /line 2: VOLUME is not supported/);
    return true;
  });
  await assert.rejects(daytona.snapshot.get(`parse-${RUN}`), sdk.DaytonaNotFoundError);

  // what islet builds is still taken
  const good = sdk.Image.base(base).dockerfileCommands(['ARG V=ok', 'RUN echo "$V" >/srv/app/arg']);
  const sb = await daytona.create({ image: good, labels: { run: RUN } }, { timeout: 150 });
  const r = await sb.process.executeCommand('cat /srv/app/arg');
  assert.equal(r.result, 'ok\n');
  await sb.delete();
});
