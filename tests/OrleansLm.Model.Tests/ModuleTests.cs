using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

[Collection(NativeStateCollection.Name)]
public class ModuleTests
{
    private sealed class TwoLayer : Module<Tensor, Tensor>
    {
        public TwoLayer()
        {
            First = RegisterModule("first", new Linear(4, 8));
            Norm = RegisterModule("norm", new LayerNorm(8));
            Drop = RegisterModule("drop", new Dropout(0.5));
            Second = RegisterModule("second", new Linear(8, 2, bias: false));
        }

        public Linear First { get; }
        public LayerNorm Norm { get; }
        public Dropout Drop { get; }
        public Linear Second { get; }

        public override Tensor Forward(Tensor x) => Second.Forward(Drop.Forward(Norm.Forward(First.Forward(x)).Relu()));
    }

    [Fact]
    public void ParametersAreNamedByPathAndCounted()
    {
        using var model = new TwoLayer();
        model.NamedParameters().Select(p => p.Name).Should().Equal(
            "first.weight", "first.bias", "norm.weight", "norm.bias", "second.weight");
        model.ParameterCount.Should().Be(4 * 8 + 8 + 8 + 8 + 8 * 2);
        model.Parameters().Should().OnlyContain(p => p.RequiresGrad);
    }

    [Fact]
    public void ParametersSurviveTheScopeTheModuleWasBuiltIn()
    {
        TwoLayer model;
        using (DisposeScope.Enter()) model = new TwoLayer();
        using (model)
        {
            model.Parameters().Should().OnlyContain(p => !p.IsClosed);
        }
        model.Parameters().Should().OnlyContain(p => p.IsClosed, "disposing the module frees its parameters");
    }

    [Fact]
    public void EvalTurnsDropoutOffAndTrainTurnsItBackOn()
    {
        using var model = new TwoLayer();
        using var scope = DisposeScope.Enter();
        var x = Tensor.Randn([16, 4]);
        model.Eval();
        model.Drop.Training.Should().BeFalse();
        model.Forward(x).ToArray<float>().Should().Equal(model.Forward(x).ToArray<float>());
        model.Train();
        model.Forward(x).ToArray<float>().Should().NotEqual(model.Forward(x).ToArray<float>());
    }

    [Fact]
    public void LoadStateDictCopiesValuesAndNamesWhatDoesNotMatch()
    {
        using var source = new TwoLayer();
        using var target = new TwoLayer();
        using var scope = DisposeScope.Enter();
        target.LoadStateDict(source.StateDict());
        target.Second.Weight.ToArray<float>().Should().Equal(source.Second.Weight.ToArray<float>());
        target.Second.Weight.Should().NotBeSameAs(source.Second.Weight);

        var wrongShape = source.StateDict().ToDictionary(p => p.Key, p => p.Value);
        wrongShape["norm.bias"] = Tensor.Zeros([3]);
        var load = () => target.LoadStateDict(wrongShape);
        load.Should().Throw<ArgumentException>().WithMessage("*norm.bias*[3]*[8]*");

        var missing = source.StateDict().Where(p => p.Key != "first.bias").ToDictionary(p => p.Key, p => p.Value);
        load = () => target.LoadStateDict(missing);
        load.Should().Throw<ArgumentException>().WithMessage("*missing [first.bias]*");
    }

    [Fact]
    public void ToKeepsParameterIdentityAndValues()
    {
        using var model = new TwoLayer();
        var weight = model.First.Weight;
        var before = weight.ToArray<float>();
        model.To(Device.Cpu);
        model.First.Weight.Should().BeSameAs(weight);
        weight.ToArray<float>().Should().Equal(before);
        weight.RequiresGrad.Should().BeTrue();
    }

    [Fact]
    public void LinearComputesXWTransposePlusBias()
    {
        using var linear = new Linear(3, 2);
        using var scope = DisposeScope.Enter();
        using (LibTorch.NoGrad())
        {
            linear.Weight.CopyFrom(Tensor.FromArray<float>([1, 0, -1, 2, 1, 0], [2, 3]));
            linear.Bias!.CopyFrom(Tensor.FromArray<float>([0.5f, -0.5f], [2]));
        }
        var y = linear.Forward(Tensor.FromArray<float>([1, 2, 3], [1, 3]));
        y.ToArray<float>().Should().Equal(1 - 3 + 0.5f, 2 + 2 - 0.5f);
    }

    [Fact]
    public void DropoutRejectsAProbabilityOutsideZeroToOne()
    {
        var make = () => new Dropout(1.0);
        make.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("p");
    }
}
