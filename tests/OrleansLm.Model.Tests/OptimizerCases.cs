using System.Text.Json.Nodes;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Optimizer runs shared by the parity and resume tests: three float64 parameters of different shapes, a
/// 20-step sequence of losses L_t = Σᵢ sum(W_{t,i} ⊙ sin θᵢ + 0.1 θᵢ²) with seeded weights, each optimizer
/// under several option sets. Parameter 2 is left out of every fourth loss, so it gets no gradient at those
/// steps and its update count falls behind the others' (Adam's bias correction must use its own count).
/// </summary>
internal static class OptimizerCases
{
    public const int StepCount = 20;

    public static readonly long[][] Shapes = [[3, 4], [4], [2, 3, 2]];

    public sealed record Group(int[] Parameters, double? LearningRate = null, double? WeightDecay = null);

    /// <summary>One step: the loss weights per parameter (null: no gradient), the learning rate to set, the clipping bound.</summary>
    public sealed record Step(double[]?[] Weights, double? LearningRate, double? Clip);

    public sealed record Case(string Name, OptimizerOptions Options, Group[] Groups, double[][] Initial, Step[] Steps)
    {
        public Optimizer CreateOptimizer(IReadOnlyList<Tensor> parameters)
        {
            var groups = Groups.Select(g => new ParameterGroup(g.Parameters.Select(i => parameters[i]), g.LearningRate, g.WeightDecay));
            return Options switch
            {
                SgdOptions o => new Sgd(groups, o),
                AdamWOptions o => new AdamW(groups, o),
                AdamOptions o => new Adam(groups, o),
                AdagradOptions o => new Adagrad(groups, o),
                RmsPropOptions o => new RmsProp(groups, o),
                _ => throw new ArgumentOutOfRangeException(nameof(Options), Options, "no optimizer for these options"),
            };
        }

        public JsonObject ToJson()
        {
            var (optimizer, kwargs) = TorchConstructor(Options);
            return new JsonObject
            {
                ["name"] = Name,
                ["optimizer"] = optimizer,
                ["kwargs"] = kwargs,
                ["groups"] = new JsonArray([.. Groups.Select(g =>
                {
                    var group = new JsonObject { ["params"] = new JsonArray([.. g.Parameters.Select(i => JsonValue.Create(i))]) };
                    if (g.LearningRate is { } lr) group["lr"] = lr;
                    if (g.WeightDecay is { } wd) group["weight_decay"] = wd;
                    return (JsonNode)group;
                })]),
                ["params"] = new JsonArray([.. Initial.Select((data, i) => (JsonNode)new JsonObject
                {
                    ["shape"] = Numbers(Shapes[i]),
                    ["data"] = Numbers(data),
                })]),
                ["steps"] = new JsonArray([.. Steps.Select(s => (JsonNode)new JsonObject
                {
                    ["weights"] = new JsonArray([.. s.Weights.Select(w => w is null ? null : (JsonNode)Numbers(w))]),
                    ["lr"] = s.LearningRate,
                    ["clip"] = s.Clip,
                })]),
            };
        }
    }

    public static IReadOnlyList<Case> All { get; } = Build();

    public static JsonObject ToJson() => new() { ["cases"] = new JsonArray([.. All.Select(c => (JsonNode)c.ToJson())]) };

    /// <summary>torch.optim's class and keyword arguments for the same options.</summary>
    private static (string Optimizer, JsonObject Kwargs) TorchConstructor(OptimizerOptions options)
    {
        var kwargs = new JsonObject { ["lr"] = options.LearningRate, ["weight_decay"] = options.WeightDecay, ["maximize"] = options.Maximize };
        switch (options)
        {
            case SgdOptions o:
                kwargs["momentum"] = o.Momentum;
                kwargs["dampening"] = o.Dampening;
                kwargs["nesterov"] = o.Nesterov;
                return ("sgd", kwargs);
            case AdamOptions o:
                kwargs["betas"] = new JsonArray(o.Beta1, o.Beta2);
                kwargs["eps"] = o.Eps;
                kwargs["amsgrad"] = o.Amsgrad;
                return (o is AdamWOptions ? "adamw" : "adam", kwargs);
            case AdagradOptions o:
                kwargs["lr_decay"] = o.LearningRateDecay;
                kwargs["initial_accumulator_value"] = o.InitialAccumulatorValue;
                kwargs["eps"] = o.Eps;
                return ("adagrad", kwargs);
            case RmsPropOptions o:
                kwargs["alpha"] = o.Alpha;
                kwargs["eps"] = o.Eps;
                kwargs["momentum"] = o.Momentum;
                kwargs["centered"] = o.Centered;
                return ("rmsprop", kwargs);
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options, "no torch.optim counterpart");
        }
    }

    private static JsonArray Numbers<T>(IEnumerable<T> values) => new([.. values.Select(v => JsonValue.Create(v))]);

    private static List<Case> Build()
    {
        var random = new Random(20240612);
        double[] Uniform(long count, double scale) => [.. Enumerable.Range(0, (int)count).Select(_ => scale * (2 * random.NextDouble() - 1))];
        long Count(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

        Group[] all = [new([0, 1, 2])];
        // As nanoGPT configures AdamW: decay on the matrices, none on the vector, which also has its own rate.
        Group[] decayMatricesOnly = [new([0, 2], WeightDecay: 0.1), new([1], LearningRate: 0.02, WeightDecay: 0)];

        var cases = new List<Case>();
        void Add(string name, OptimizerOptions options, Group[]? groups = null, ILearningRateSchedule? schedule = null, double? clip = null)
        {
            var initial = Shapes.Select(s => Uniform(Count(s), 1)).ToArray();
            var steps = Enumerable.Range(0, StepCount).Select(t => new Step(
                [.. Shapes.Select((s, i) => i == 2 && t % 4 == 1 ? null : Uniform(Count(s), 2))],
                schedule?.LearningRateAt(t),
                clip)).ToArray();
            cases.Add(new Case(name, options, groups ?? all, initial, steps));
        }

        Add("sgd_plain", new SgdOptions { LearningRate = 0.1 });
        Add("sgd_momentum", new SgdOptions { LearningRate = 0.1, Momentum = 0.9 });
        Add("sgd_dampening", new SgdOptions { LearningRate = 0.1, Momentum = 0.9, Dampening = 0.3 });
        Add("sgd_nesterov", new SgdOptions { LearningRate = 0.1, Momentum = 0.8, Nesterov = true });
        Add("sgd_weight_decay", new SgdOptions { LearningRate = 0.1, Momentum = 0.9, WeightDecay = 0.05 });
        Add("sgd_maximize", new SgdOptions { LearningRate = 0.05, Momentum = 0.5, WeightDecay = 0.01, Maximize = true });
        Add("sgd_step_schedule_clipped", new SgdOptions { Momentum = 0.9 }, schedule: new StepSchedule(0.2, 5, 0.5), clip: 0.5);
        Add("adam", new AdamOptions { LearningRate = 0.05 });
        Add("adam_l2_maximize", new AdamOptions { LearningRate = 0.05, WeightDecay = 0.1, Maximize = true });
        Add("adam_amsgrad", new AdamOptions { LearningRate = 0.05, Beta1 = 0.8, Beta2 = 0.95, Amsgrad = true });
        Add("adamw", new AdamWOptions { LearningRate = 0.05, WeightDecay = 0.1 });
        Add("adamw_amsgrad_groups", new AdamWOptions { LearningRate = 0.05, Amsgrad = true }, decayMatricesOnly);
        Add("adamw_warmup_cosine_clipped", new AdamWOptions { WeightDecay = 0.1 }, schedule: new WarmupCosineSchedule(0.05, 0.005, 4, 15), clip: 1.0);
        Add("adagrad", new AdagradOptions { LearningRate = 0.1 });
        Add("adagrad_decay_l2_accumulator_maximize", new AdagradOptions
        {
            LearningRate = 0.1, LearningRateDecay = 0.05, WeightDecay = 0.01, InitialAccumulatorValue = 0.1, Eps = 1e-8, Maximize = true,
        });
        Add("rmsprop", new RmsPropOptions { LearningRate = 0.01 });
        Add("rmsprop_momentum", new RmsPropOptions { LearningRate = 0.01, Momentum = 0.9, WeightDecay = 0.01 });
        Add("rmsprop_centered", new RmsPropOptions { LearningRate = 0.01, Centered = true });
        Add("rmsprop_centered_momentum_maximize", new RmsPropOptions { LearningRate = 0.01, Alpha = 0.9, Centered = true, Momentum = 0.5, Maximize = true });
        return cases;
    }
}

/// <summary>A case's parameters and optimizer, stepped through the case's losses.</summary>
internal sealed class OptimizerRun : IDisposable
{
    private readonly OptimizerCases.Case testCase;

    public OptimizerRun(OptimizerCases.Case testCase, IReadOnlyList<double[]>? initial = null)
    {
        this.testCase = testCase;
        initial ??= testCase.Initial;
        Parameters = [.. initial.Select((data, i) =>
            Tensor.FromArray<double>(data, OptimizerCases.Shapes[i], requiresGrad: true).DetachFromDisposeScope())];
        Optimizer = testCase.CreateOptimizer(Parameters);
    }

    public Tensor[] Parameters { get; }

    public Optimizer Optimizer { get; }

    public List<double> Norms { get; } = [];

    /// <summary>Runs steps [from, to) and returns the parameters' values after each.</summary>
    public List<double[][]> Run(int from, int to)
    {
        var trajectory = new List<double[][]>();
        for (var t = from; t < to; t++)
        {
            using var scope = DisposeScope.Enter();
            var step = testCase.Steps[t];
            Optimizer.ZeroGrad();
            Tensor? loss = null;
            for (var i = 0; i < Parameters.Length; i++)
            {
                if (step.Weights[i] is not { } weights) continue;
                var p = Parameters[i];
                var term = (Tensor.FromArray<double>(weights, OptimizerCases.Shapes[i]) * p.Sin() + 0.1 * p * p).Sum();
                loss = loss is null ? term : loss + term;
            }
            loss!.Backward();
            if (step.LearningRate is { } lr) Optimizer.LearningRate = lr;
            if (step.Clip is { } clip) Norms.Add(GradientClipping.ClipGradNorm(Parameters, clip));
            Optimizer.Step();
            trajectory.Add([.. Parameters.Select(p => p.ToArray<double>())]);
        }
        return trajectory;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        foreach (var p in Parameters) p.Dispose();
    }
}
