using FusedRnn.IO;

namespace FusedRnn.Tests.IO;

public class FileTextTests
{
    [Theory]
    [InlineData("weight_ih_l0")]
    [InlineData("rnn.Gewichte_ä_日本_😀")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")]
    [InlineData("")]
    public void LeavesPrintableTextAsItIs(string text) => Assert.Same(text, FileText.Escape(text));

    [Theory]
    [InlineData("\u001b[31m", @"\x1b[31m")]
    [InlineData("a\0b\tc\nd\u007f", @"a\x00b\x09c\x0ad\x7f")]
    [InlineData("\u0085\u009b", @"\x85\x9b")]                   // C1 controls: NEL, CSI
    [InlineData("abc\u202edef\u2066", @"abc\u202edef\u2066")]   // bidi overrides and isolates
    [InlineData("zero\u200bwidth\ufeff", @"zero\u200bwidth\ufeff")]
    [InlineData("line\u2028para\u2029", @"line\u2028para\u2029")]
    [InlineData("private\ue000", @"private\ue000")]
    [InlineData("tag\U000e0041", @"tag\U000e0041")]             // a format character outside the BMP
    [InlineData("back\\slash", @"back\\slash")]                 // so that an escape in the output always means one
    public void EscapesWhatIsNotPrintable(string text, string expected) => Assert.Equal(expected, FileText.Escape(text));

    [Fact]
    public void EscapesUnpairedSurrogates()
    {
        Assert.Equal(@"a\ud800b", FileText.Escape("a\ud800b"));
        Assert.Equal(@"\udc00", FileText.Escape("\udc00"));
        Assert.Equal(@"x\ud83d", FileText.Escape("x\ud83d"));
    }

    [Fact]
    public void CutsLongTextSayingHowMuchWasLeftOut()
    {
        Assert.Equal("abc... (7 more characters)", FileText.Escape("abcdefghij", maxShown: 3));
        Assert.Equal(@"\x1b\x1b... (1 more characters)", FileText.Escape("\u001b\u001b\u001b", maxShown: 2));
        string shown = FileText.Escape(new string('x', 100_000));
        Assert.Equal(new string('x', FileText.MaxShown) + "... (99744 more characters)", shown);
    }
}
