using System.Runtime.InteropServices;

namespace FusedRnn.BindGen;

/// <summary>Reads the declarations of one C header through libclang.</summary>
internal static unsafe class HeaderParser
{
    /// <summary>Parses <paramref name="headerPath"/>; clang errors become an <see cref="InvalidDataException"/>.</summary>
    public static HeaderModel Parse(string headerPath, BindGenConfig config)
    {
        LibClang.UseLibraryOnce(config.LibclangCandidates);
        nint index = LibClang.clang_createIndex(0, 0);
        try
        {
            nint unit = ParseUnit(index, headerPath, config.ClangArguments);
            try
            {
                return new Reader(unit, config, File.ReadAllText(headerPath)).Read();
            }
            finally
            {
                LibClang.clang_disposeTranslationUnit(unit);
            }
        }
        finally
        {
            LibClang.clang_disposeIndex(index);
        }
    }

    private static nint ParseUnit(nint index, string headerPath, IReadOnlyList<string> arguments)
    {
        var pinned = new List<nint>();
        try
        {
            nint file = Marshal.StringToCoTaskMemUTF8(headerPath);
            pinned.Add(file);
            byte** argv = stackalloc byte*[arguments.Count];
            for (int i = 0; i < arguments.Count; i++)
            {
                nint argument = Marshal.StringToCoTaskMemUTF8(arguments[i]);
                pinned.Add(argument);
                argv[i] = (byte*)argument;
            }
            nint unit = LibClang.clang_parseTranslationUnit(index, (byte*)file, argv, arguments.Count, 0, 0,
                LibClang.ParseDetailedPreprocessingRecord);
            if (unit == 0) throw new InvalidDataException($"libclang could not parse {headerPath}");
            ThrowOnErrors(unit, headerPath);
            return unit;
        }
        finally
        {
            pinned.ForEach(Marshal.FreeCoTaskMem);
        }
    }

    private static void ThrowOnErrors(nint unit, string headerPath)
    {
        var errors = new List<string>();
        for (uint i = 0; i < LibClang.clang_getNumDiagnostics(unit); i++)
        {
            nint diagnostic = LibClang.clang_getDiagnostic(unit, i);
            if (LibClang.clang_getDiagnosticSeverity(diagnostic) >= LibClang.SeverityError)
            {
                errors.Add(LibClang.Consume(LibClang.clang_formatDiagnostic(diagnostic, LibClang.clang_defaultDiagnosticDisplayOptions())));
            }
            LibClang.clang_disposeDiagnostic(diagnostic);
        }
        if (errors.Count > 0)
        {
            LibClang.clang_disposeTranslationUnit(unit);
            throw new InvalidDataException($"clang reports errors in {headerPath}:\n{string.Join('\n', errors)}");
        }
    }

    private sealed class Reader(nint unit, BindGenConfig config, string headerText)
    {
        private readonly List<CXCursor> declarations =
            LibClang.clang_getTranslationUnitCursor(unit).Children().Where(c => c.IsInMainFile()).ToList();
        private readonly HashSet<string> enumNames = [];
        private readonly HashSet<string> structNames = [];
        private readonly HashSet<string> opaqueNames = [];

        public HeaderModel Read()
        {
            var structCursors = declarations.Where(c => c.Kind == CXCursorKind.StructDecl).ToList();
            foreach (CXCursor cursor in declarations.Where(c => c.Kind == CXCursorKind.EnumDecl)) enumNames.Add(cursor.Spelling());
            foreach (CXCursor cursor in structCursors)
            {
                (LibClang.clang_isCursorDefinition(cursor) != 0 ? structNames : opaqueNames).Add(cursor.Spelling());
            }
            opaqueNames.ExceptWith(structNames);

            return new HeaderModel(
                ReadConstants(),
                declarations.Where(c => c.Kind == CXCursorKind.EnumDecl).Select(ReadEnum).ToList(),
                structCursors.Where(c => LibClang.clang_isCursorDefinition(c) != 0).Select(ReadStruct).ToList(),
                opaqueNames.Select(name => new COpaque(name, DocOf(name))).OrderBy(o => o.Name, StringComparer.Ordinal).ToList(),
                declarations.Where(c => c.Kind == CXCursorKind.FunctionDecl && c.Spelling().StartsWith(config.FunctionPrefix, StringComparison.Ordinal))
                    .Select(ReadFunction).ToList());
        }

        private List<CConstant> ReadConstants()
        {
            var constants = new List<CConstant>();
            foreach (string name in config.ConstantMacros)
            {
                CXCursor macro = declarations.FirstOrDefault(c => c.Kind == CXCursorKind.MacroDefinition && c.Spelling() == name);
                if (macro.Kind != CXCursorKind.MacroDefinition)
                {
                    throw new InvalidDataException($"macro {name} (listed in {BindGenConfig.FileName}) is not defined in the header");
                }
                List<string> tokens = LibClang.Tokens(unit, macro);
                if (tokens.Count < 2) throw new InvalidDataException($"macro {name} has no value");
                constants.Add(new CConstant(name, string.Concat(tokens.Skip(1)), PrecedingDocComment(macro)));
            }
            return constants;
        }

        private CEnum ReadEnum(CXCursor cursor)
        {
            var members = cursor.Children()
                .Where(c => c.Kind == CXCursorKind.EnumConstantDecl)
                .Select(c => new CEnumMember(c.Spelling(), LibClang.clang_getEnumConstantDeclValue(c), DocComment(c)))
                .ToList();
            string name = cursor.Spelling();
            return new CEnum(name, Resolve(LibClang.clang_getEnumDeclIntegerType(cursor)), members, DocOf(name));
        }

        private CStruct ReadStruct(CXCursor cursor)
        {
            var fields = cursor.Children()
                .Where(c => c.Kind == CXCursorKind.FieldDecl)
                .Select(c => new CField(c.Spelling(), LibClang.clang_Cursor_getOffsetOfField(c) / 8,
                    Resolve(LibClang.clang_getCursorType(c)), DocComment(c)))
                .ToList();
            string name = cursor.Spelling();
            return new CStruct(name, LibClang.clang_Type_getSizeOf(LibClang.clang_getCursorType(cursor)), fields, DocOf(name));
        }

        private CFunction ReadFunction(CXCursor cursor)
        {
            var parameters = new List<CParameter>();
            for (uint i = 0; i < LibClang.clang_Cursor_getNumArguments(cursor); i++)
            {
                CXCursor parameter = LibClang.clang_Cursor_getArgument(cursor, i);
                CXType type = LibClang.clang_getCursorType(parameter);
                parameters.Add(new CParameter(parameter.Spelling(), Resolve(type), type.Spelling()));
            }
            CXType result = LibClang.clang_getCursorResultType(cursor);
            return new CFunction(cursor.Spelling(), Resolve(result), result.Spelling(), parameters, DocComment(cursor));
        }

        /// <summary>The doc comment of a struct or enum, on its tag declaration or on the typedef of the same name.</summary>
        private string? DocOf(string name) =>
            declarations
                .Where(c => c.Kind is CXCursorKind.StructDecl or CXCursorKind.EnumDecl or CXCursorKind.TypedefDecl && c.Spelling() == name)
                .Select(DocComment)
                .FirstOrDefault(doc => doc is not null);

        private CType Resolve(CXType type)
        {
            switch (type.Kind)
            {
                case CXTypeKind.Elaborated:
                    return Resolve(LibClang.clang_Type_getNamedType(type));
                case CXTypeKind.Typedef:
                case CXTypeKind.Record:
                case CXTypeKind.Enum:
                    string name = LibClang.clang_getTypeDeclaration(type).Spelling();
                    if (enumNames.Contains(name)) return new CNamed(name, CNamedKind.Enum);
                    if (structNames.Contains(name)) return new CNamed(name, CNamedKind.Struct);
                    if (opaqueNames.Contains(name)) return new CNamed(name, CNamedKind.Opaque);
                    if (type.Kind == CXTypeKind.Typedef) return Resolve(LibClang.clang_getCanonicalType(type));
                    throw new InvalidDataException($"type {type.Spelling()} is not declared in the header");
                case CXTypeKind.Pointer:
                    return new CPointer(Resolve(LibClang.clang_getPointeeType(type)));
                case CXTypeKind.ConstantArray:
                    return new CArray(Resolve(LibClang.clang_getArrayElementType(type)), LibClang.clang_getArraySize(type));
                default:
                    return new CPrimitive(PrimitiveName(type));
            }
        }

        private static string PrimitiveName(CXType type)
        {
            long size = LibClang.clang_Type_getSizeOf(type);
            return (type.Kind, size) switch
            {
                (CXTypeKind.Void, _) => "void",
                (CXTypeKind.Bool, 1) => "bool",
                (CXTypeKind.Float, 4) => "float",
                (CXTypeKind.Double, 8) => "double",
                // Plain char only appears as text (const char*): bytes of UTF-8.
                (CXTypeKind.CharS or CXTypeKind.CharU or CXTypeKind.UChar, 1) => "byte",
                (CXTypeKind.SChar, 1) => "sbyte",
                (CXTypeKind.Short, 2) => "short",
                (CXTypeKind.UShort, 2) => "ushort",
                (CXTypeKind.Int or CXTypeKind.Long or CXTypeKind.LongLong, 4) => "int",
                (CXTypeKind.Int or CXTypeKind.Long or CXTypeKind.LongLong, 8) => "long",
                (CXTypeKind.UInt or CXTypeKind.ULong or CXTypeKind.ULongLong, 4) => "uint",
                (CXTypeKind.UInt or CXTypeKind.ULong or CXTypeKind.ULongLong, 8) => "ulong",
                _ => throw new InvalidDataException($"type {type.Spelling()} has no C# equivalent the bindings support"),
            };
        }

        /// <summary>libclang attaches no comment to a macro: take the /** */ block that ends right above its #define.</summary>
        private string? PrecedingDocComment(CXCursor macro)
        {
            int lineStart = headerText.LastIndexOf('\n', Math.Max(0, macro.FileOffset() - 1)) + 1;
            string above = headerText[..lineStart].TrimEnd();
            if (!above.EndsWith("*/", StringComparison.Ordinal)) return null;
            int start = above.LastIndexOf("/**", StringComparison.Ordinal);
            return start < 0 ? null : CleanComment(above[start..]);
        }

        private static string? DocComment(CXCursor cursor) => CleanComment(LibClang.Consume(LibClang.clang_Cursor_getRawCommentText(cursor)));
    }

    /// <summary>The text of a /** */, /**&lt; */ or /// comment without its markers, one string per line.</summary>
    internal static string? CleanComment(string raw)
    {
        if (string.IsNullOrWhiteSpace(raw)) return null;
        var lines = new List<string>();
        foreach (string rawLine in raw.Split('\n'))
        {
            string line = rawLine.Trim();
            foreach (string marker in new[] { "/**<", "///<", "/**", "///", "*/" })
            {
                if (line.StartsWith(marker, StringComparison.Ordinal)) line = line[marker.Length..];
            }
            if (line.EndsWith("*/", StringComparison.Ordinal)) line = line[..^2];
            if (line.StartsWith('*')) line = line[1..];
            line = line.TrimEnd();
            if (line.StartsWith(' ')) line = line[1..];
            lines.Add(line);
        }
        while (lines.Count > 0 && lines[0].Length == 0) lines.RemoveAt(0);
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines.Count == 0 ? null : string.Join('\n', lines);
    }
}
