using OrleansLm.Model.Optim;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

[Collection(NativeStateCollection.Name)]
public class OptimizerTests
{
    public static TheoryData<string> CaseNames => new(OptimizerCases.All.Select(c => c.Name));

    private static OptimizerCases.Case Case(string name) => OptimizerCases.All.Single(c => c.Name == name);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void SavedStateResumesTheUninterruptedTrajectoryExactly(string name)
    {
        const int split = 10;
        var testCase = Case(name);
        List<double[][]> uninterrupted;
        using (var run = new OptimizerRun(testCase)) uninterrupted = run.Run(0, OptimizerCases.StepCount);

        // A checkpoint copies values out, as a safetensors writer will; the first process then ends.
        double[][] parametersAtSplit;
        Dictionary<string, (long[] Shape, double[] Data)> savedTensors;
        long[] savedSteps;
        using (var first = new OptimizerRun(testCase))
        {
            first.Run(0, split);
            parametersAtSplit = [.. first.Parameters.Select(p => p.ToArray<double>())];
            var state = first.Optimizer.StateDict();
            savedTensors = state.Tensors.ToDictionary(e => e.Key, e => (e.Value.Shape, e.Value.ToArray<double>()));
            savedSteps = [.. state.Steps];
        }
        savedSteps.Order().Should().Equal([7, 10, 10], "parameter 2 had no gradient at steps 2, 6 and 10");

        using var resumed = new OptimizerRun(testCase, parametersAtSplit);
        using (DisposeScope.Enter())
        {
            var tensors = savedTensors.ToDictionary(e => e.Key, e => Tensor.FromArray<double>(e.Value.Data, e.Value.Shape));
            resumed.Optimizer.LoadStateDict(new OptimizerState(tensors, savedSteps));
        }
        resumed.Run(split, OptimizerCases.StepCount).Should().BeEquivalentTo(uninterrupted[split..], o => o.WithStrictOrdering());

        if (savedTensors.Count == 0) return;
        using var restartedWithoutState = new OptimizerRun(testCase, parametersAtSplit);
        restartedWithoutState.Run(split, OptimizerCases.StepCount)[^1].SelectMany(p => p)
            .Should().NotEqual(uninterrupted[^1].SelectMany(p => p), "the state the test restores must matter");
    }

    [Fact]
    public void LoadStateDictNamesWhatDoesNotMatchAndChangesNothing()
    {
        using var source = new OptimizerRun(Case("adam"));
        source.Run(0, 3);
        var state = source.Optimizer.StateDict();
        state.Tensors.Keys.Should().BeEquivalentTo("0.exp_avg", "0.exp_avg_sq", "1.exp_avg", "1.exp_avg_sq", "2.exp_avg", "2.exp_avg_sq");

        using var target = new OptimizerRun(Case("adam_amsgrad"));
        using var scope = DisposeScope.Enter();
        var load = () => target.Optimizer.LoadStateDict(state);
        load.Should().Throw<ArgumentException>().WithParameterName("state")
            .WithMessage("*missing [0.max_exp_avg_sq, 1.max_exp_avg_sq, 2.max_exp_avg_sq], unexpected []*");

        using var adam = new OptimizerRun(Case("adam"));
        OptimizerState With(string key, Tensor value) =>
            state with { Tensors = state.Tensors.Where(e => e.Key != key).Append(KeyValuePair.Create(key, value)).ToDictionary() };
        load = () => adam.Optimizer.LoadStateDict(With("1.exp_avg", Tensor.Zeros([5], ScalarType.Float64)));
        load.Should().Throw<ArgumentException>().WithMessage("*'1.exp_avg' has shape [5], parameter 1's is [4]*");
        load = () => adam.Optimizer.LoadStateDict(With("0.momentum", Tensor.Zeros([3, 4], ScalarType.Float64)));
        load.Should().Throw<ArgumentException>().WithMessage("*missing [], unexpected [0.momentum]*");
        load = () => adam.Optimizer.LoadStateDict(state with { Steps = [3, 0, 3] });
        load.Should().Throw<ArgumentException>().WithMessage("*unexpected [1.exp_avg, 1.exp_avg_sq]*");
        load = () => adam.Optimizer.LoadStateDict(state with { Steps = [3, 3] });
        load.Should().Throw<ArgumentException>().WithMessage("*step counts for 2 parameters, the optimizer has 3*");
        load = () => adam.Optimizer.LoadStateDict(state with { Steps = [3, -1, 3] });
        load.Should().Throw<ArgumentException>().WithMessage("*negative step counts for parameters [1]*");

        adam.Optimizer.StateDict().Tensors.Should().BeEmpty("a rejected state must leave the optimizer untouched");
        adam.Optimizer.StateDict().Steps.Should().Equal(0, 0, 0);
    }

    [Fact]
    public void StateIsOwnedByTheOptimizerAndFreedWithIt()
    {
        var baseline = NativeTensors.SettledCount();
        var run = new OptimizerRun(Case("adam_amsgrad"));
        using (DisposeScope.Enter()) run.Run(0, 1);
        var afterFirstStep = LibTorch.LiveTensorCount;
        afterFirstStep.Should().Be(baseline + 3 + 3 * 3, "three parameters, each with three state tensors, outlive the step's scope");
        using (DisposeScope.Enter()) run.Run(1, 5);
        LibTorch.LiveTensorCount.Should().Be(afterFirstStep, "a step frees its temporaries");
        run.Dispose();
        LibTorch.LiveTensorCount.Should().Be(baseline);
        var step = () => run.Optimizer.Step();
        step.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void OptionsRejectBadValuesNamingTheOption()
    {
        Action[] invalid =
        [
            () => _ = new SgdOptions { LearningRate = -0.1 },
            () => _ = new AdamOptions { LearningRate = double.NaN },
            () => _ = new SgdOptions { WeightDecay = -1 },
            () => _ = new SgdOptions { Momentum = -0.5 },
            () => _ = new AdamOptions { Beta1 = 1 },
            () => _ = new AdamWOptions { Beta2 = -0.1 },
            () => _ = new AdamOptions { Eps = -1e-8 },
            () => _ = new AdagradOptions { LearningRateDecay = -1 },
            () => _ = new AdagradOptions { InitialAccumulatorValue = -1 },
            () => _ = new RmsPropOptions { Alpha = -0.9 },
        ];
        string[] names = ["LearningRate", "LearningRate", "WeightDecay", "Momentum", "Beta1", "Beta2", "Eps", "LearningRateDecay", "InitialAccumulatorValue", "Alpha"];
        for (var k = 0; k < invalid.Length; k++)
            invalid[k].Should().Throw<ArgumentOutOfRangeException>().WithParameterName(names[k]);
    }

    [Fact]
    public void ConstructionChecksNesterovAndTheParameters()
    {
        using var scope = DisposeScope.Enter();
        var p = Tensor.Zeros([2], ScalarType.Float64, requiresGrad: true);
        var q = Tensor.Zeros([3], ScalarType.Float64, requiresGrad: true);

        var make = () => new Sgd([p], new SgdOptions { Momentum = 0.9, Dampening = 0.1, Nesterov = true });
        make.Should().Throw<ArgumentException>().WithParameterName("options").WithMessage("Nesterov*");
        make = () => new Sgd([p], new SgdOptions { Nesterov = true });
        make.Should().Throw<ArgumentException>().WithParameterName("options");
        make = () => new Sgd(Array.Empty<Tensor>(), new SgdOptions());
        make.Should().Throw<ArgumentException>().WithParameterName("groups");
        make = () => new Sgd([p, q, p], new SgdOptions());
        make.Should().Throw<ArgumentException>().WithMessage("*more than once*");
        make = () => new Sgd([p * 2], new SgdOptions());
        make.Should().Throw<ArgumentException>().WithMessage("*non-leaf*");
        make = () => new Sgd([new ParameterGroup([p]), new ParameterGroup([q], LearningRate: -1)], new SgdOptions());
        make.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("groups[1].LearningRate");
    }

    [Fact]
    public void GroupsTakeTheirOwnSettingsAndTheLearningRateSetterReachesAll()
    {
        using var scope = DisposeScope.Enter();
        var p = Tensor.Zeros([2], ScalarType.Float64, requiresGrad: true);
        var q = Tensor.Zeros([3], ScalarType.Float64, requiresGrad: true);
        using var adamW = new AdamW([new ParameterGroup([p]), new ParameterGroup([q], LearningRate: 0.5, WeightDecay: 0)],
            new AdamWOptions { LearningRate = 0.1 });
        adamW.Groups.Select(g => (g.LearningRate, g.WeightDecay)).Should().Equal((0.1, 0.01), (0.5, 0.0));
        var read = () => adamW.LearningRate;
        read.Should().Throw<InvalidOperationException>();
        adamW.LearningRate = 0.2;
        adamW.Groups.Should().OnlyContain(g => g.LearningRate == 0.2);
        adamW.LearningRate.Should().Be(0.2);
        var set = () => adamW.LearningRate = -0.2;
        set.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("LearningRate");
    }

    [Fact]
    public void AccumulatingScaledMicroBatchesGivesTheFullBatchGradient()
    {
        using var scope = DisposeScope.Enter();
        LibTorch.ManualSeed(7);
        var w = Tensor.Randn([3, 4], ScalarType.Float64, requiresGrad: true);
        var x = Tensor.Randn([8, 4], ScalarType.Float64);
        var y = Tensor.Randn([8, 3], ScalarType.Float64);
        Tensor Loss(Tensor xs, Tensor ys) => (xs.Matmul(w.Transpose(0, 1)) - ys).Square().Mean();

        Loss(x, y).Backward();
        var fullBatch = w.Grad!.ToArray<double>();

        const int k = 4;
        w.ZeroGrad();
        for (var m = 0; m < k; m++) (Loss(x.Narrow(0, 2 * m, 2), y.Narrow(0, 2 * m, 2)) / k).Backward();
        var accumulated = w.Grad!.ToArray<double>();

        accumulated.Should().Equal(fullBatch, (a, b) => Math.Abs(a - b) <= 1e-12);
        w.ZeroGrad();
        Loss(x.Narrow(0, 0, 2), y.Narrow(0, 0, 2)).Backward();
        w.Grad!.ToArray<double>().Zip(fullBatch).Max(g => Math.Abs(g.First - g.Second)).Should().BeGreaterThan(1e-6, "one micro-batch alone differs");
    }

    [Fact]
    public void ClipGradNormScalesAllGradientsByTheGlobalNorm()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Zeros([2], ScalarType.Float64, requiresGrad: true);
        var b = Tensor.Zeros([1, 1], ScalarType.Float64, requiresGrad: true);
        var withoutGrad = Tensor.Zeros([3], ScalarType.Float64, requiresGrad: true);
        GradientClipping.ClipGradNorm([withoutGrad], 1).Should().Be(0, "no gradients, norm 0");

        a.Grad = Tensor.FromArray<double>(3, 4);
        b.Grad = Tensor.FromArray<double>([12.0], [1, 1]);
        GradientClipping.ClipGradNorm([a, b, withoutGrad], 100).Should().BeApproximately(13, 1e-12, "√(3² + 4² + 12²)");
        a.Grad!.ToArray<double>().Should().Equal(3, 4);

        GradientClipping.ClipGradNorm([a, b, withoutGrad], 6.5).Should().BeApproximately(13, 1e-12);
        var scale = 6.5 / (13 + 1e-6);
        a.Grad!.ToArray<double>().Should().Equal([3 * scale, 4 * scale], (u, v) => Math.Abs(u - v) <= 1e-12);
        b.Grad!.ToArray<double>().Single().Should().BeApproximately(12 * scale, 1e-12);
        withoutGrad.Grad.Should().BeNull();

        var clip = () => GradientClipping.ClipGradNorm([a], -1);
        clip.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("maxNorm");
    }

    [Fact]
    public void NonFiniteGradientsFlowThroughForTheTrainerToHandle()
    {
        using var scope = DisposeScope.Enter();
        var p = Tensor.FromArray<double>([1, 2], [2], requiresGrad: true);
        p.Grad = Tensor.FromArray<double>(double.NaN, 1);
        using var sgd = new Sgd([p], new SgdOptions { LearningRate = 0.5 });
        double.IsNaN(GradientClipping.ClipGradNorm([p], 1)).Should().BeTrue();
        sgd.Step();
        p.ToArray<double>().Should().OnlyContain(v => double.IsNaN(v), "clipping by a NaN norm makes every gradient NaN, as in PyTorch");
    }
}
