using System.Text;
using System.Text.RegularExpressions;

namespace FusedRnn.BindGen;

/// <summary>Turns a <see cref="HeaderModel"/> into the C# interop files (file name → text).</summary>
internal sealed partial class CSharpWriter(HeaderModel header, BindGenConfig config)
{
    private const string HandleSuffix = "Handle";

    public IReadOnlyDictionary<string, string> Write() => new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        [$"{config.FunctionsClass}.g.cs"] = WriteFunctions(),
        [$"{config.TypeNameReplacement}Types.g.cs"] = WriteTypes(),
        [$"{config.TypeNameReplacement}StructLayouts.g.cs"] = WriteStructLayouts(),
    };

    private string WriteFunctions()
    {
        var code = new CodeBuilder(config);
        code.Line("using System.Runtime.CompilerServices;");
        code.Line("using System.Runtime.InteropServices;");
        code.Line();
        code.Line("// Every struct below is blittable and every bool one byte, so calls pass memory as it is.");
        code.Line("[assembly: DisableRuntimeMarshalling]");
        code.Line();
        code.Namespace();
        code.Doc($"The functions of {Path.GetFileName(config.Header)}, imported from the native library \"{config.LibraryName}\".");
        code.Open($"internal static unsafe partial class {config.FunctionsClass}");
        code.Doc("The library name every import uses; a resolver maps it to a file.");
        code.Line($"public const string LibraryName = \"{config.LibraryName}\";");
        foreach (CConstant constant in header.Constants)
        {
            code.Line();
            code.Doc(constant.Doc);
            code.Line($"public const {ConstantType(constant)} {ConstantName(constant.Name)} = {constant.Value};");
        }
        foreach (CFunction function in header.Functions)
        {
            code.Line();
            code.Doc(function.Doc);
            code.Line($"// {CSignature(function)}");
            code.Line("[LibraryImport(LibraryName)]");
            code.Line("[UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]");
            string parameters = string.Join(", ", function.Parameters.Select(p => $"{TypeName(p.Type)} {ParameterName(p.Name)}"));
            code.Line($"public static partial {TypeName(function.Result)} {function.Name}({parameters});");
        }
        code.Close();
        return code.ToString();
    }

    private string WriteTypes()
    {
        var code = new CodeBuilder(config);
        code.Line("using System.Runtime.InteropServices;");
        code.Line();
        code.Namespace();
        var blocks = new List<Action>();
        blocks.AddRange(header.Enums.Select(e => (Action)(() => WriteEnum(code, e))));
        blocks.AddRange(header.Structs.Select(s => (Action)(() => WriteStruct(code, s))));
        blocks.AddRange(header.Opaques.Select(o => (Action)(() => WriteHandle(code, o))));
        for (int i = 0; i < blocks.Count; i++)
        {
            if (i > 0) code.Line();
            blocks[i]();
        }
        return code.ToString();
    }

    private void WriteEnum(CodeBuilder code, CEnum cEnum)
    {
        string prefix = CommonPrefix(cEnum.Members.Select(m => m.Name).ToList());
        code.Doc(cEnum.Doc);
        code.Line($"// C: {cEnum.Name}");
        code.Open($"internal enum {TypeName(new CNamed(cEnum.Name, CNamedKind.Enum))} : {TypeName(cEnum.UnderlyingType)}");
        foreach (CEnumMember member in cEnum.Members)
        {
            code.Doc(member.Doc);
            code.Line($"{Pascal(member.Name[prefix.Length..])} = {member.Value},");
        }
        code.Close();
    }

    private void WriteStruct(CodeBuilder code, CStruct cStruct)
    {
        code.Doc(cStruct.Doc);
        code.Line($"// C: {cStruct.Name}, {cStruct.Size} bytes");
        code.Line($"[StructLayout(LayoutKind.Explicit, Size = {cStruct.Size})]");
        code.Open($"internal unsafe struct {TypeName(new CNamed(cStruct.Name, CNamedKind.Struct))}");
        for (int i = 0; i < cStruct.Fields.Count; i++)
        {
            CField field = cStruct.Fields[i];
            if (i > 0) code.Line();
            code.Doc(field.Doc);
            string declaration = field.Type is CArray array
                ? $"public fixed {TypeName(array.Element)} {Pascal(field.Name)}[{array.Length}];"
                : $"public {TypeName(field.Type)} {Pascal(field.Name)};";
            code.Line($"[FieldOffset({field.Offset})]");
            code.Line(declaration);
        }
        code.Close();
    }

    private void WriteHandle(CodeBuilder code, COpaque opaque)
    {
        string name = TypeName(new CPointer(new CNamed(opaque.Name, CNamedKind.Opaque)));
        code.Doc(opaque.Doc);
        code.Line($"// C: {opaque.Name}* (opaque), passed as the pointer itself");
        code.Open($"internal readonly struct {name}(nint value)");
        code.Doc("The native pointer; 0 is NULL.");
        code.Line("public nint Value { get; } = value;");
        code.Close();
    }

    private string WriteStructLayouts()
    {
        string record = $"{config.TypeNameReplacement}StructLayout";
        var code = new CodeBuilder(config);
        code.Namespace();
        code.Doc("A struct shared with the native library: its C name, the C# type mirroring it, and the C# field of each C field.");
        code.Line($"internal sealed record {record}(string CName, Type Type, IReadOnlyList<(string CField, string Field)> Fields);");
        code.Line();
        code.Doc("Every struct of the header, for the test that compares them with the library's own layout report.");
        code.Open($"internal static class {config.TypeNameReplacement}StructLayouts");
        code.Line($"public static IReadOnlyList<{record}> All {{ get; }} =");
        code.Line("[");
        foreach (CStruct cStruct in header.Structs)
        {
            string type = TypeName(new CNamed(cStruct.Name, CNamedKind.Struct));
            code.Line($"    new(\"{cStruct.Name}\", typeof({type}),");
            code.Line("    [");
            foreach (CField field in cStruct.Fields)
            {
                code.Line($"        (\"{field.Name}\", nameof({type}.{Pascal(field.Name)})),");
            }
            code.Line("    ]),");
        }
        code.Line("];");
        code.Close();
        return code.ToString();
    }

    private string TypeName(CType type) => type switch
    {
        CPrimitive primitive => primitive.CSharpName,
        CPointer { Pointee: CNamed { Kind: CNamedKind.Opaque } opaque } => CSharpTypeName(opaque.CName) + HandleSuffix,
        CPointer pointer => TypeName(pointer.Pointee) + "*",
        CNamed { Kind: CNamedKind.Opaque } opaque => throw new InvalidDataException($"{opaque.CName} is opaque: it can only be used through a pointer"),
        CNamed named => CSharpTypeName(named.CName),
        CArray array => throw new InvalidDataException($"array of {TypeName(array.Element)} outside a struct"),
        _ => throw new InvalidOperationException($"unknown type {type}"),
    };

    private string CSharpTypeName(string cName) =>
        cName.StartsWith(config.TypeNamePrefix, StringComparison.Ordinal)
            ? config.TypeNameReplacement + Pascal(cName[config.TypeNamePrefix.Length..])
            : Pascal(cName);

    private string ConstantName(string macro)
    {
        string prefix = config.TypeNamePrefix.ToUpperInvariant();
        return Pascal(macro.StartsWith(prefix, StringComparison.Ordinal) ? macro[prefix.Length..] : macro);
    }

    private static string ConstantType(CConstant constant)
    {
        Match literal = IntegerLiteral().Match(constant.Value);
        if (!literal.Success) throw new InvalidDataException($"macro {constant.Name} = {constant.Value} is not an integer literal");
        return literal.Groups["unsigned"].Success ? "uint" : "int";
    }

    private static string CSignature(CFunction function)
    {
        string parameters = function.Parameters.Count == 0
            ? "void"
            : string.Join(", ", function.Parameters.Select(p => $"{TightPointers(p.CSpelling)} {p.Name}"));
        return $"{TightPointers(function.ResultSpelling)} {function.Name}({parameters});";
    }

    // clang spells "const frnn_model *"; the header writes "const frnn_model*".
    private static string TightPointers(string spelling) => spelling.Replace(" *", "*", StringComparison.Ordinal);

    private static string ParameterName(string name) => CSharpKeywords.Contains(name) ? "@" + name : name;

    /// <summary>snake_case or SCREAMING_CASE to PascalCase: weight_ih_count → WeightIhCount, OUT_OF_MEMORY → OutOfMemory.</summary>
    internal static string Pascal(string name) =>
        string.Concat(name.Split('_', StringSplitOptions.RemoveEmptyEntries)
            .Select(part => char.ToUpperInvariant(part[0]) + part[1..].ToLowerInvariant()));

    /// <summary>The longest prefix ending in '_' that every name shares (FRNN_STATUS_ for the status codes).</summary>
    private static string CommonPrefix(IReadOnlyList<string> names)
    {
        if (names.Count == 0) return "";
        string prefix = names[0][..(names[0].LastIndexOf('_') + 1)];
        while (prefix.Length > 0 && !names.All(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.Length > prefix.Length))
        {
            prefix = prefix[..(prefix[..^1].LastIndexOf('_') + 1)];
        }
        return prefix;
    }

    [GeneratedRegex(@"^(0[xX][0-9a-fA-F]+|[0-9]+)(?<unsigned>[uU])?$")]
    private static partial Regex IntegerLiteral();

    private static readonly HashSet<string> CSharpKeywords =
    [
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected",
        "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string",
        "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
    ];

    /// <summary>Indented lines under the generated-file banner.</summary>
    private sealed class CodeBuilder
    {
        private readonly StringBuilder text = new();
        private readonly BindGenConfig config;
        private int depth;

        public CodeBuilder(BindGenConfig config)
        {
            this.config = config;
            Line("// <auto-generated>");
            Line($"//   Generated by FusedRnn.BindGen from {config.Header}. Do not edit: change the header, then run");
            Line($"//   ./build.sh bindings (settings: src/FusedRnn.BindGen/{BindGenConfig.FileName}).");
            Line("// </auto-generated>");
            Line("#nullable enable");
            Line();
        }

        public void Namespace()
        {
            Line($"namespace {config.Namespace};");
            Line();
        }

        public void Line(string line = "")
        {
            if (line.Length > 0) text.Append(' ', depth * 4).Append(line);
            text.Append('\n');
        }

        public void Doc(string? doc)
        {
            if (doc is null) return;
            string[] lines = doc.Split('\n');
            if (lines.Length == 1)
            {
                Line($"/// <summary>{EscapeXml(doc)}</summary>");
                return;
            }
            Line("/// <summary>");
            foreach (string line in lines) Line(line.Length == 0 ? "///" : "/// " + EscapeXml(line));
            Line("/// </summary>");
        }

        public void Open(string declaration)
        {
            Line(declaration);
            Line("{");
            depth++;
        }

        public void Close()
        {
            depth--;
            Line("}");
        }

        public override string ToString() => text.ToString();

        private static string EscapeXml(string text) =>
            text.Replace("&", "&amp;", StringComparison.Ordinal)
                .Replace("<", "&lt;", StringComparison.Ordinal)
                .Replace(">", "&gt;", StringComparison.Ordinal);
    }
}
