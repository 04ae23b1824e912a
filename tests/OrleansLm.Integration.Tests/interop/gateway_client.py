"""Drives every RPC of the OrleansLm gRPC gateway with grpcio, an independent gRPC implementation.

Run by PythonInteropTests (through PythonGatewayClient): the test starts a silo with the gateway, compiles our .proto
files with protoc and grpc_python_plugin into --generated, and asserts on what this script reports. The script observes
and reports, it does not judge: each check prints one JSON line {"check": NAME, ...observations}; an RPC that fails
where it should not, or anything else unexpected, ends it with exit code 2, the error and its traceback on stderr.

Modes: "full" (the whole service surface, against an h2c gateway) and "tls" (health and ListModels through
grpc.secure_channel trusting --root-cert).
"""

import argparse
import json
import math
import os
import sys
import threading
import time
import traceback


class CheckFailed(Exception):
    pass


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT of the gateway")
    parser.add_argument("--generated", required=True, help="directory of the protoc output")
    parser.add_argument("--mode", choices=["full", "tls"], default="full")
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--sampling-token", required=True)
    parser.add_argument("--tiny-run", help="run.yaml of a run that trains in seconds (full mode)")
    parser.add_argument("--long-run", help="run.yaml of a run that outlasts the checks (full mode)")
    parser.add_argument("--max-new-tokens", type=int, help="the gateway's Gateway:MaxNewTokens (full mode)")
    parser.add_argument("--prompt", help="what the sampling checks continue (full mode)")
    parser.add_argument("--tokens", type=int, help="how many tokens the sampling checks generate (full mode)")
    parser.add_argument("--root-cert", help="PEM certificate the TLS gateway presents (tls mode)")
    return parser.parse_args()


def import_generated(directory):
    """Imports the generated modules. Ours live in a top-level "grpc" package too (grpc/health/v1, grpc/reflection/v1),
    which grpcio's own package shadows; adding our directory to its search path makes them its subpackages."""
    global grpc, descriptor_pb2, health_pb2, health_pb2_grpc, reflection_pb2, reflection_pb2_grpc
    global training_pb2, training_pb2_grpc, sampling_pb2, sampling_pb2_grpc
    sys.path.insert(0, directory)
    import grpc
    grpc.__path__.append(os.path.join(directory, "grpc"))
    from google.protobuf import descriptor_pb2
    from grpc.health.v1 import health_pb2, health_pb2_grpc
    from grpc.reflection.v1 import reflection_pb2, reflection_pb2_grpc
    from olm.v1 import training_pb2, training_pb2_grpc, sampling_pb2, sampling_pb2_grpc


def finite(value):
    """JSON has no NaN or infinities: they are reported as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def report(check, **observations):
    print(json.dumps(finite({"check": check, **observations}), allow_nan=False), flush=True)


def code_of(call):
    """The status name an RPC ended with, "OK" when it succeeded, and its details."""
    try:
        call()
        return "OK", ""
    except grpc.RpcError as error:
        return error.code().name, error.details() or ""


def expect_error(call):
    code, details = code_of(call)
    return {"code": code, "details": details}


def run_summary(run):
    return {
        "run_id": run.run_id, "state": training_pb2.RunState.Name(run.state), "step": run.step, "total_steps": run.total_steps,
        "loss": run.loss, "validation_loss": run.validation_loss, "validation_perplexity": run.validation_perplexity,
        "checkpoint_step": run.checkpoint_step, "model_family": run.model_family, "requested_workers": run.requested_workers,
        "error": run.error, "parameters": run.parameters, "flops_per_token": run.flops_per_token, "tokens": run.tokens,
        "evaluations": [{"step": e.step, "validation_loss": e.validation_loss} for e in run.evaluations],
    }


def completion_summary(completion):
    return {
        "index": completion.index, "text": completion.text, "ids": [t.id for t in completion.tokens],
        "token_texts": [t.text for t in completion.tokens], "logprobs": [t.logprob for t in completion.tokens],
        "logprob": completion.logprob, "finish_reason": sampling_pb2.FinishReason.Name(completion.finish_reason),
        "top_logprobs": [[{"id": a.id, "text": a.text, "logprob": a.logprob} for a in t.top_logprobs] for t in completion.tokens],
    }


class Gateway:
    def __init__(self, channel, admin_token, sampling_token, prompt=None, tokens=None):
        self.channel = channel
        # What the sampling checks generate from, and how many tokens.
        self.prompt, self.tokens = prompt, tokens
        self.admin = [("authorization", f"Bearer {admin_token}")]
        self.sampler = [("authorization", f"Bearer {sampling_token}")]
        self.health = health_pb2_grpc.HealthStub(channel)
        self.reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        self.training = training_pb2_grpc.TrainingServiceStub(channel)
        self.sampling = sampling_pb2_grpc.SamplingServiceStub(channel)

    def generate(self, **fields):
        return self.sampling.Generate(sampling_pb2.GenerateRequest(**fields), metadata=self.sampler, timeout=30)

    def serving(self):
        return health_pb2.HealthCheckResponse.ServingStatus.Name(self.health.Check(health_pb2.HealthCheckRequest(), timeout=10).status)

    def wait_for_run(self, run_id, condition, what, limit=30):
        deadline = time.monotonic() + limit
        while True:
            run = self.training.GetRun(training_pb2.GetRunRequest(run_id=run_id), metadata=self.admin, timeout=10)
            if condition(run):
                return run
            if time.monotonic() > deadline:
                raise CheckFailed(f"run {run_id} not {what} within {limit} s: {run}")
            time.sleep(0.05)


def check_health(gateway, name):
    report(f"{name}_check",
           server=gateway.serving(),
           sampling=health_pb2.HealthCheckResponse.ServingStatus.Name(
               gateway.health.Check(health_pb2.HealthCheckRequest(service="olm.v1.SamplingService"), timeout=10).status),
           unknown=expect_error(lambda: gateway.health.Check(health_pb2.HealthCheckRequest(service="olm.v1.Nope"), timeout=10)))
    watch = gateway.health.Watch(health_pb2.HealthCheckRequest(), timeout=30)
    first = health_pb2.HealthCheckResponse.ServingStatus.Name(next(watch).status)
    watch.cancel()
    report(f"{name}_watch", first=first, after_cancel=expect_error(lambda: next(watch)))


def reflection_files(response):
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in response.file_descriptor_response.file_descriptor_proto]
    return [{"name": f.name, "package": f.package, "dependencies": list(f.dependency),
             "messages": sorted(m.name for m in f.message_type),
             "services": {s.name: [{"name": m.name, "input": m.input_type, "output": m.output_type,
                                    "server_streaming": m.server_streaming, "client_streaming": m.client_streaming} for m in s.method]
                          for s in f.service}} for f in files]


def local_service(module, name):
    """What the .proto compiled here says of a service: the independent reference for reflection's answer."""
    service = module.DESCRIPTOR.services_by_name[name]
    return [{"name": m.name, "input": "." + m.input_type.full_name, "output": "." + m.output_type.full_name,
             "server_streaming": m.server_streaming, "client_streaming": m.client_streaming} for m in service.methods]


def check_reflection(gateway):
    requests = [
        reflection_pb2.ServerReflectionRequest(host="interop", list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="olm.v1.SamplingService"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="olm.v1.NoSuchSymbol"),
    ]
    responses = list(gateway.reflection.ServerReflectionInfo(iter(requests), timeout=30))
    report("reflection_v1",
           responses=len(responses),
           valid_host=responses[0].valid_host,
           services=sorted(s.name for s in responses[0].list_services_response.service),
           files=reflection_files(responses[1]),
           expected_sampling=local_service(sampling_pb2, "SamplingService"),
           expected_training_messages=sorted(training_pb2.DESCRIPTOR.message_types_by_name),
           expected_sampling_messages=sorted(sampling_pb2.DESCRIPTOR.message_types_by_name),
           unknown_symbol={"code": responses[2].error_response.error_code, "message": responses[2].error_response.error_message})

    # v1alpha's messages are v1's under another package name: the same bytes on another path.
    alpha = gateway.channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    responses = list(alpha(iter([
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_by_filename="olm/v1/training.proto"),
    ]), timeout=30))
    report("reflection_v1alpha",
           services=sorted(s.name for s in responses[0].list_services_response.service),
           files=reflection_files(responses[1]),
           expected_training=local_service(training_pb2, "TrainingService"))


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def check_training(gateway, config):
    training = gateway.training
    started = training.StartRun(training_pb2.StartRunRequest(run_id="tiny", config=config), metadata=gateway.admin, timeout=30)
    report("start_run", run=run_summary(started),
           again=expect_error(lambda: training.StartRun(training_pb2.StartRunRequest(run_id="tiny", config=config), metadata=gateway.admin, timeout=30)))

    steps, evaluations, statuses = [], [], []
    for event in training.WatchRun(training_pb2.WatchRunRequest(run_id="tiny", from_step=0), metadata=gateway.admin, timeout=60):
        kind = event.WhichOneof("event")
        if kind == "step":
            steps.append({"step": event.step.step, "total_steps": event.step.total_steps, "loss": event.step.loss})
        elif kind == "evaluation":
            evaluations.append({"step": event.evaluation.step, "validation_loss": event.evaluation.validation_loss,
                                "validation_perplexity": event.evaluation.validation_perplexity})
        else:
            statuses.append(run_summary(event.status))
    report("watch_run", steps=steps, evaluations=evaluations, statuses=statuses)

    report("get_run", run=run_summary(training.GetRun(training_pb2.GetRunRequest(run_id="tiny"), metadata=gateway.admin, timeout=10)))
    report("list_runs", runs=[run_summary(r) for r in training.ListRuns(training_pb2.ListRunsRequest(), metadata=gateway.admin, timeout=10).runs])

    exported = training.ExportModel(training_pb2.ExportModelRequest(run_id="tiny", model_name="tiny-export"), metadata=gateway.admin, timeout=30)
    models = gateway.sampling.ListModels(sampling_pb2.ListModelsRequest(), metadata=gateway.sampler, timeout=10).models
    report("export_model", model=exported.model, step=exported.step, size_bytes=exported.size_bytes,
           listed=[{"model": m.model, "source": sampling_pb2.ModelInfo.Source.Name(m.source), "run_state": training_pb2.RunState.Name(m.run_state),
                    "step": m.step, "size_bytes": m.size_bytes, "modified_unix_seconds": m.modified_unix_seconds} for m in models])


def check_run_control(gateway, config):
    training, admin = gateway.training, gateway.admin
    training.StartRun(training_pb2.StartRunRequest(run_id="long", config=config), metadata=admin, timeout=30)
    gateway.wait_for_run("long", lambda r: r.step > 0, "past its first step")

    pause = training.PauseRun(training_pb2.PauseRunRequest(run_id="long"), metadata=admin, timeout=10)
    paused = gateway.wait_for_run("long", lambda r: r.state == training_pb2.RUN_STATE_PAUSED, "paused")
    time.sleep(0.5)
    still = training.GetRun(training_pb2.GetRunRequest(run_id="long"), metadata=admin, timeout=10)

    # A paused run's WatchRun stays open, so a short deadline ends it.
    clock = time.monotonic()
    watched = []

    def watch():
        for event in training.WatchRun(training_pb2.WatchRunRequest(run_id="long", from_step=-1), metadata=admin, timeout=0.5):
            watched.append(event.WhichOneof("event"))
    deadline = expect_error(watch)
    deadline["seconds"] = time.monotonic() - clock
    deadline["events"] = watched

    resume = training.ResumeRun(training_pb2.ResumeRunRequest(run_id="long"), metadata=admin, timeout=10)
    resumed = gateway.wait_for_run("long", lambda r: r.step > still.step, "stepping again after its resume")
    stop = training.StopRun(training_pb2.StopRunRequest(run_id="long"), metadata=admin, timeout=10)
    stopped = gateway.wait_for_run("long", lambda r: r.state == training_pb2.RUN_STATE_STOPPED, "stopped")
    report("run_control",
           pause=run_summary(pause), paused=run_summary(paused), still=run_summary(still), deadline=deadline,
           resume=run_summary(resume), resumed=run_summary(resumed), stop=run_summary(stop), stopped=run_summary(stopped),
           pause_stopped=expect_error(lambda: training.PauseRun(training_pb2.PauseRunRequest(run_id="long"), metadata=admin, timeout=10)))


def choose_stop(prompt, text):
    """A stop sequence whose first occurrence in prompt + text starts at k >= 1 of the text, and k: the text generated
    with it must be text[:k]."""
    full = prompt + text
    for length in (3, 2):
        for k in range(len(text) - length, 0, -1):
            stop = text[k:k + length]
            if full.find(stop) == len(prompt) + k:
                return stop, k
    raise CheckFailed(f"no stop sequence occurs first inside the greedy text {text!r}")


def check_sampling(gateway):
    model = "tiny-export"
    greedy = [gateway.generate(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens) for _ in range(2)]
    from_run = gateway.generate(model="run:tiny", prompt=gateway.prompt, max_new_tokens=gateway.tokens)
    report("generate_greedy", prompt=gateway.prompt, prompt_tokens=greedy[0].prompt_tokens, model=greedy[0].model,
           first=completion_summary(greedy[0].completions[0]), second=completion_summary(greedy[1].completions[0]),
           from_run=completion_summary(from_run.completions[0]), completions=len(greedy[0].completions))
    greedy_text = greedy[0].completions[0].text

    default_length = gateway.generate(model=model, prompt=gateway.prompt)
    report("generate_default_length", tokens=len(default_length.completions[0].tokens))

    seeded = [gateway.generate(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens, temperature=1.0, seed=seed)
              for seed in (7, 7, 8)]
    report("generate_seeded", texts=[s.completions[0].text for s in seeded])

    samples = gateway.generate(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens, temperature=1.0, seed=11, n=2)
    report("generate_n", completions=[completion_summary(c) for c in samples.completions])

    alternatives = gateway.generate(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens, top_logprobs=3)
    report("generate_top_logprobs", completion=completion_summary(alternatives.completions[0]))

    stop, k = choose_stop(gateway.prompt, greedy_text)
    stopped = gateway.generate(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens, stop=[stop])
    report("generate_stop", greedy=greedy_text, stop=stop, expected_text=greedy_text[:k], completion=completion_summary(stopped.completions[0]))

    beam = gateway.generate(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens, beam_width=3, n=2)
    report("generate_beam", completions=[completion_summary(c) for c in beam.completions])

    chunks = list(gateway.sampling.GenerateStream(
        sampling_pb2.GenerateRequest(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens), metadata=gateway.sampler, timeout=30))
    report("generate_stream",
           chunks=[{"index": c.index, "has_token": c.HasField("token"), "id": c.token.id, "text": c.token.text, "logprob": c.token.logprob,
                    "finish_reason": sampling_pb2.FinishReason.Name(c.finish_reason)} for c in chunks])

    scored = gateway.sampling.Score(sampling_pb2.ScoreRequest(model=model, text=gateway.prompt + greedy_text), metadata=gateway.sampler, timeout=30)
    report("score", text=gateway.prompt + greedy_text, model=scored.model, ids=[t.id for t in scored.tokens], texts=[t.text for t in scored.tokens],
           logprobs=[t.logprob for t in scored.tokens], average_surprisal=scored.average_surprisal,
           average_surprisal_bits=scored.average_surprisal_bits, perplexity=scored.perplexity)

    gzip = grpc.Compression.Gzip
    report("gzip",
           generate=gateway.sampling.Generate(sampling_pb2.GenerateRequest(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens),
                                              metadata=gateway.sampler, timeout=30, compression=gzip).completions[0].text,
           stream="".join(c.token.text for c in gateway.sampling.GenerateStream(
               sampling_pb2.GenerateRequest(model=model, prompt=gateway.prompt, max_new_tokens=gateway.tokens),
               metadata=gateway.sampler, timeout=30, compression=gzip)),
           perplexity=gateway.sampling.Score(sampling_pb2.ScoreRequest(model=model, text=gateway.prompt + greedy_text),
                                             metadata=gateway.sampler, timeout=30, compression=gzip).perplexity,
           runs=[r.run_id for r in gateway.training.ListRuns(training_pb2.ListRunsRequest(), metadata=gateway.admin, timeout=10, compression=gzip).runs])
    return greedy_text


def check_cancellation(gateway, greedy_text, max_new_tokens):
    """Cancels a long GenerateStream after a few chunks; the gateway and the model's batcher must carry on serving."""
    stream = gateway.sampling.GenerateStream(
        sampling_pb2.GenerateRequest(model="tiny-export", prompt=gateway.prompt, max_new_tokens=max_new_tokens, temperature=1.0, seed=1),
        metadata=gateway.sampler, timeout=30)
    received = [next(stream) for _ in range(3)]
    stream.cancel()
    cancelled = expect_error(lambda: list(stream))
    # Answers are awaited on another thread so that a gateway that hangs fails this check rather than the whole test.
    after = {}

    def follow_up():
        after["health"] = gateway.serving()
        after["greedy"] = gateway.generate(model="tiny-export", prompt=gateway.prompt, max_new_tokens=gateway.tokens).completions[0].text
    worker = threading.Thread(target=follow_up, daemon=True)
    worker.start()
    worker.join(timeout=20)
    report("cancellation", received=len(received), cancelled=cancelled, health=after.get("health"),
           greedy_after=after.get("greedy"), greedy_before=greedy_text)


def check_errors(gateway):
    sampling, training = gateway.sampling, gateway.training
    generate = sampling_pb2.GenerateRequest(model="tiny-export", prompt=gateway.prompt, max_new_tokens=4)
    report("auth",
           generate_without_token=expect_error(lambda: sampling.Generate(generate, timeout=10)),
           list_runs_without_token=expect_error(lambda: training.ListRuns(training_pb2.ListRunsRequest(), timeout=10)),
           list_runs_with_sampling_token=expect_error(lambda: training.ListRuns(training_pb2.ListRunsRequest(), metadata=gateway.sampler, timeout=10)),
           generate_with_wrong_token=expect_error(lambda: sampling.Generate(generate, metadata=[("authorization", "Bearer not-the-token-at-all")], timeout=10)),
           generate_with_admin_token=expect_error(lambda: sampling.Generate(generate, metadata=gateway.admin, timeout=10)),
           health_without_token=expect_error(lambda: gateway.health.Check(health_pb2.HealthCheckRequest(), timeout=10)))
    report("not_found",
           get_run=expect_error(lambda: training.GetRun(training_pb2.GetRunRequest(run_id="no-such-run"), metadata=gateway.admin, timeout=10)),
           watch_run=expect_error(lambda: list(training.WatchRun(training_pb2.WatchRunRequest(run_id="no-such-run"), metadata=gateway.admin, timeout=10))),
           export_model=expect_error(lambda: training.ExportModel(training_pb2.ExportModelRequest(run_id="no-such-run"), metadata=gateway.admin, timeout=10)),
           model=expect_error(lambda: gateway.generate(model="no-such-model", prompt=gateway.prompt)),
           run_model=expect_error(lambda: gateway.generate(model="run:no-such-run", prompt=gateway.prompt)))
    # grpc-message carries UTF-8 percent-encoded: the details arrive as the server wrote them.
    report("invalid_argument",
           top_k=expect_error(lambda: gateway.generate(model="tiny-export", prompt=gateway.prompt, top_k=-1)),
           config=expect_error(lambda: training.StartRun(training_pb2.StartRunRequest(run_id="bad-config", config="model: [1"), metadata=gateway.admin, timeout=10)))
    nope = gateway.channel.unary_unary("/olm.v1.SamplingService/Nope",
                                       request_serializer=sampling_pb2.GenerateRequest.SerializeToString,
                                       response_deserializer=sampling_pb2.GenerateResponse.FromString)
    report("unimplemented", method=expect_error(lambda: nope(generate, metadata=gateway.sampler, timeout=10)))


def full(arguments):
    channel = grpc.insecure_channel(arguments.target)
    gateway = Gateway(channel, arguments.admin_token, arguments.sampling_token, arguments.prompt, arguments.tokens)
    check_health(gateway, "health")
    check_reflection(gateway)
    check_training(gateway, read(arguments.tiny_run))
    greedy_text = check_sampling(gateway)
    check_cancellation(gateway, greedy_text, arguments.max_new_tokens)
    check_run_control(gateway, read(arguments.long_run))
    check_errors(gateway)
    # Everything above, cancellations and refusals included, left the gateway serving.
    check_health(gateway, "health_at_end")


def tls(arguments):
    with open(arguments.root_cert, "rb") as pem:
        credentials = grpc.ssl_channel_credentials(root_certificates=pem.read())
    gateway = Gateway(grpc.secure_channel(arguments.target, credentials), arguments.admin_token, arguments.sampling_token)
    report("tls_health", server=gateway.serving())
    report("tls_list_models", models=[m.model for m in gateway.sampling.ListModels(sampling_pb2.ListModelsRequest(), metadata=gateway.sampler, timeout=10).models],
           without_token=expect_error(lambda: gateway.sampling.ListModels(sampling_pb2.ListModelsRequest(), timeout=10)))


def main():
    arguments = parse_arguments()
    import_generated(arguments.generated)
    try:
        full(arguments) if arguments.mode == "full" else tls(arguments)
    except Exception as error:
        print(f"gateway_client.py: {type(error).__name__}: {error}", file=sys.stderr)
        traceback.print_exc()
        sys.exit(2)


if __name__ == "__main__":
    main()
