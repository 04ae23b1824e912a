using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// The recurrent cells composed from primitives against libtorch's fused kernels (at::rnn_tanh, at::lstm,
/// at::gru, the ops behind PyTorch's nn.RNN/LSTM/GRU): the fused ops take our weights in PyTorch's layout,
/// so agreement checks the equations, the gate order and the layout at once.
/// </summary>
[Collection(NativeStateCollection.Name)]
public class RnnTests
{
    public static TheoryData<RnnCellType, int, bool, ScalarType> FusedCases()
    {
        var cases = new TheoryData<RnnCellType, int, bool, ScalarType>();
        foreach (var cell in Enum.GetValues<RnnCellType>())
            foreach (var layers in new[] { 1, 2 })
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
                    cases.Add(cell, layers, false, dtype);
        foreach (var cell in Enum.GetValues<RnnCellType>()) cases.Add(cell, 2, true, ScalarType.Float64);
        return cases;
    }

    [Theory]
    [MemberData(nameof(FusedCases))]
    public void ComposedCellsMatchTheFusedKernelsInOutputsStatesAndGradients(RnnCellType cell, int layers, bool bidirectional, ScalarType dtype)
    {
        var tolerance = dtype == ScalarType.Float32 ? 1e-5 : 1e-12;
        LibTorch.ManualSeed(11);
        using var rnn = new Rnn(cell, inputSize: 5, hiddenSize: 4, numLayers: layers, bidirectional: bidirectional);
        ConvertParameters(rnn, dtype);
        using var scope = DisposeScope.Enter();
        var rows = rnn.Directions * layers;
        var x = Tensor.Randn([3, 6, 5], dtype);
        var start = new RnnState(Tensor.Randn([rows, 3, 4], dtype), cell == RnnCellType.Lstm ? Tensor.Randn([rows, 3, 4], dtype) : null);
        var outputWeight = Tensor.Randn([3, 6, rnn.Directions * 4], dtype);

        (Tensor Output, RnnState State, List<Tensor> Grads) Run(bool fused)
        {
            rnn.UseFusedKernels = fused;
            rnn.ZeroGrad();
            var (output, state) = rnn.Forward(x, start);
            var loss = (output * outputWeight).Sum() + state.Hidden.Sum() * 0.5;
            if (state.Cell is not null) loss = loss + state.Cell.Sum() * 0.25;
            loss.Backward();
            return (output, state, [.. rnn.Parameters().Select(p => p.Grad!)]);
        }

        var composed = Run(fused: false);
        var fused = Run(fused: true);

        MaxDifference(composed.Output, fused.Output).Should().BeLessThan(tolerance, "outputs");
        MaxDifference(composed.State.Hidden, fused.State.Hidden).Should().BeLessThan(tolerance, "final h");
        if (cell == RnnCellType.Lstm) MaxDifference(composed.State.Cell!, fused.State.Cell!).Should().BeLessThan(tolerance, "final c");
        else fused.State.Cell.Should().BeNull();
        var names = rnn.NamedParameters().Select(p => p.Name).ToList();
        for (var i = 0; i < names.Count; i++)
            MaxDifference(composed.Grads[i], fused.Grads[i]).Should().BeLessThan(tolerance * 10, $"gradient of {names[i]}");
    }

    [Theory]
    [InlineData(RnnCellType.Elman)]
    [InlineData(RnnCellType.Lstm)]
    [InlineData(RnnCellType.Gru)]
    public void ACellStepByStepEqualsItsScanForwardAndBackward(RnnCellType type)
    {
        LibTorch.ManualSeed(12);
        using var cell = RnnCellTypes.Create(type, inputSize: 3, hiddenSize: 5);
        using var scope = DisposeScope.Enter();
        var x = Tensor.Randn([2, 4, 3]);
        var start = new CellState(Tensor.Randn([2, 5]), type == RnnCellType.Lstm ? Tensor.Randn([2, 5]) : null);
        foreach (var reverse in new[] { false, true })
        {
            var (outputs, final) = cell.Scan(x, start, reverse);
            var state = start;
            foreach (var t in reverse ? [3, 2, 1, 0] : new[] { 0, 1, 2, 3 })
            {
                state = cell.Forward(x.Select(1, t), state);
                MaxDifference(outputs.Select(1, t), state.Hidden).Should().BeLessThan(1e-6, $"h at t = {t}, reverse = {reverse}");
            }
            MaxDifference(final.Hidden, state.Hidden).Should().Be(0);
            if (type == RnnCellType.Lstm) MaxDifference(final.Cell!, state.Cell!).Should().Be(0);
        }
    }

    [Fact]
    public void ParametersHavePyTorchsNamesShapesAndInitialisation()
    {
        using var lstm = new Rnn(RnnCellType.Lstm, inputSize: 5, hiddenSize: 4, numLayers: 2, bidirectional: true);
        var expected = new List<(string, long[])>();
        foreach (var layer in new[] { "l0", "l1" })
            foreach (var suffix in new[] { "", "_reverse" })
            {
                var input = layer == "l0" ? 5 : 8;
                expected.Add(($"weight_ih_{layer}{suffix}", [16, input]));
                expected.Add(($"weight_hh_{layer}{suffix}", [16, 4]));
                expected.Add(($"bias_ih_{layer}{suffix}", [16]));
                expected.Add(($"bias_hh_{layer}{suffix}", [16]));
            }
        lstm.NamedParameters().Select(p => (p.Name, p.Parameter.Shape)).Should().BeEquivalentTo(expected, o => o.WithStrictOrdering());

        using var gru = new Rnn(RnnCellType.Gru, inputSize: 3, hiddenSize: 25);
        gru.NamedParameters().Single(p => p.Name == "weight_hh_l0").Parameter.Shape.Should().Equal(75, 25);
        var values = gru.Parameters().SelectMany(p => p.ToArray<float>()).ToArray();
        values.Should().OnlyContain(v => Math.Abs(v) <= 0.2f, "PyTorch draws every weight from U(−1/√H, 1/√H) = U(−0.2, 0.2)");
        values.Max().Should().BeGreaterThan(0.15f);
        values.Min().Should().BeLessThan(-0.15f);
    }

    [Fact]
    public void BadArgumentsNameTheirParameter()
    {
        var zeroLayers = () => new Rnn(RnnCellType.Elman, 3, 4, numLayers: 0);
        zeroLayers.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("numLayers");
        var unknown = () => RnnCellTypes.Parse("transformer", "Cell", "Model");
        unknown.Should().Throw<ArgumentException>().WithParameterName("Cell").WithMessage("Model.Cell: unknown recurrent cell 'transformer'*");

        using var rnn = new Rnn(RnnCellType.Lstm, 3, 4);
        using var scope = DisposeScope.Enter();
        var wrongInput = () => rnn.Forward(Tensor.Zeros([2, 5, 7]));
        wrongInput.Should().Throw<ArgumentException>().WithParameterName("x").WithMessage("*[B, T ≥ 1, 3]*[2, 5, 7]*");
        var noCell = () => rnn.Forward(Tensor.Zeros([2, 5, 3]), new RnnState(Tensor.Zeros([1, 2, 4])));
        noCell.Should().Throw<ArgumentException>().WithParameterName("state").WithMessage("*h and c [1, 2, 4]*");
    }

    internal static double MaxDifference(Tensor a, Tensor b)
    {
        a.Shape.Should().Equal(b.Shape);
        using var scope = DisposeScope.Enter();
        return (a - b).Abs().Max().ToDouble();
    }

    internal static void ConvertParameters(Module module, ScalarType dtype)
    {
        using var noGrad = LibTorch.NoGrad();
        foreach (var p in module.Parameters())
        {
            using var converted = p.To(dtype);
            p.SetData(converted);
        }
    }
}
