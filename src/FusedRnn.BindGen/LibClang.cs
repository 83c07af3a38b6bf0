using System.Runtime.InteropServices;

namespace FusedRnn.BindGen;

// The libclang C API, the part the generator uses. This is the one hand-written import in the repository:
// it binds the tool's parser, not libfusedrnn (whose bindings this tool writes). Layouts and values are those of
// clang-c/Index.h (LLVM 14), stable across LLVM releases.

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXString
{
    private readonly nint data;
    private readonly uint privateFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXCursor
{
    public readonly CXCursorKind Kind;
    private readonly int xdata;
    private readonly nint data0, data1, data2;
}

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXType
{
    public readonly CXTypeKind Kind;
    private readonly nint data0, data1;
}

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXSourceLocation
{
    private readonly nint data0, data1;
    private readonly uint intData;
}

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXSourceRange
{
    private readonly nint data0, data1;
    private readonly uint beginIntData, endIntData;
}

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXToken
{
    private readonly uint int0, int1, int2, int3;
    private readonly nint ptrData;
}

internal enum CXCursorKind
{
    StructDecl = 2,
    EnumDecl = 5,
    FieldDecl = 6,
    EnumConstantDecl = 7,
    FunctionDecl = 8,
    ParmDecl = 10,
    TypedefDecl = 20,
    MacroDefinition = 501,
}

internal enum CXTypeKind
{
    Invalid = 0,
    Void = 2,
    Bool = 3,
    CharU = 4,
    UChar = 5,
    UShort = 8,
    UInt = 9,
    ULong = 10,
    ULongLong = 11,
    CharS = 13,
    SChar = 14,
    Short = 16,
    Int = 17,
    Long = 18,
    LongLong = 19,
    Float = 21,
    Double = 22,
    Pointer = 101,
    Record = 105,
    Enum = 106,
    Typedef = 107,
    ConstantArray = 112,
    Elaborated = 119,
}

internal static unsafe partial class LibClang
{
    private const string Library = "libclang";

    public const uint ParseDetailedPreprocessingRecord = 0x01;
    public const int SeverityError = 3;
    public const int VisitContinue = 1;

    private static IReadOnlyList<string>? libraryCandidates;

    /// <summary>
    /// Points the "libclang" import at the first of <paramref name="candidates"/> that loads. A process binds one
    /// libclang: later calls keep the first list.
    /// </summary>
    public static void UseLibraryOnce(IReadOnlyList<string> candidates)
    {
        if (Interlocked.CompareExchange(ref libraryCandidates, candidates, null) is not null) return;
        NativeLibrary.SetDllImportResolver(typeof(LibClang).Assembly, (name, _, _) =>
        {
            if (name != Library) return 0;
            foreach (string candidate in candidates)
            {
                if (NativeLibrary.TryLoad(candidate, out nint handle)) return handle;
            }
            throw new DllNotFoundException(
                $"libclang not found; tried {string.Join(", ", candidates)} (Debian: apt-get install libclang1-14 libclang-common-14-dev)");
        });
    }

    [LibraryImport(Library)] public static partial nint clang_createIndex(int excludeDeclarationsFromPch, int displayDiagnostics);
    [LibraryImport(Library)] public static partial void clang_disposeIndex(nint index);
    [LibraryImport(Library)]
    public static partial nint clang_parseTranslationUnit(nint index, byte* sourceFilename, byte** arguments, int argumentCount,
        nint unsavedFiles, uint unsavedFileCount, uint options);
    [LibraryImport(Library)] public static partial void clang_disposeTranslationUnit(nint unit);
    [LibraryImport(Library)] public static partial uint clang_getNumDiagnostics(nint unit);
    [LibraryImport(Library)] public static partial nint clang_getDiagnostic(nint unit, uint index);
    [LibraryImport(Library)] public static partial int clang_getDiagnosticSeverity(nint diagnostic);
    [LibraryImport(Library)] public static partial CXString clang_formatDiagnostic(nint diagnostic, uint options);
    [LibraryImport(Library)] public static partial uint clang_defaultDiagnosticDisplayOptions();
    [LibraryImport(Library)] public static partial void clang_disposeDiagnostic(nint diagnostic);
    [LibraryImport(Library)] public static partial CXCursor clang_getTranslationUnitCursor(nint unit);
    [LibraryImport(Library)]
    public static partial uint clang_visitChildren(CXCursor parent, delegate* unmanaged<CXCursor, CXCursor, nint, int> visitor, nint clientData);
    [LibraryImport(Library)] public static partial CXString clang_getCursorSpelling(CXCursor cursor);
    [LibraryImport(Library)] public static partial byte* clang_getCString(CXString text);
    [LibraryImport(Library)] public static partial void clang_disposeString(CXString text);
    [LibraryImport(Library)] public static partial CXType clang_getCursorType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getCursorResultType(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_getNumArguments(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [LibraryImport(Library)] public static partial CXString clang_getTypeSpelling(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getCanonicalType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getPointeeType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_Type_getNamedType(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getSizeOf(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getArrayElementType(CXType type);
    [LibraryImport(Library)] public static partial long clang_getArraySize(CXType type);
    [LibraryImport(Library)] public static partial CXCursor clang_getTypeDeclaration(CXType type);
    [LibraryImport(Library)] public static partial uint clang_isCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_isNull(CXCursor cursor);
    [LibraryImport(Library)] public static partial long clang_Cursor_getOffsetOfField(CXCursor cursor);
    [LibraryImport(Library)] public static partial long clang_getEnumConstantDeclValue(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Location_isFromMainFile(CXSourceLocation location);
    [LibraryImport(Library)]
    public static partial void clang_getSpellingLocation(CXSourceLocation location, nint* file, uint* line, uint* column, uint* offset);
    [LibraryImport(Library)] public static partial CXString clang_Cursor_getRawCommentText(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXSourceRange clang_getCursorExtent(CXCursor cursor);
    [LibraryImport(Library)] public static partial void clang_tokenize(nint unit, CXSourceRange range, CXToken** tokens, uint* tokenCount);
    [LibraryImport(Library)] public static partial CXString clang_getTokenSpelling(nint unit, CXToken token);
    [LibraryImport(Library)] public static partial void clang_disposeTokens(nint unit, CXToken* tokens, uint tokenCount);

    /// <summary>Copies a libclang string and frees it.</summary>
    public static string Consume(CXString text)
    {
        try
        {
            return Marshal.PtrToStringUTF8((nint)clang_getCString(text)) ?? "";
        }
        finally
        {
            clang_disposeString(text);
        }
    }

    public static string Spelling(this CXCursor cursor) => Consume(clang_getCursorSpelling(cursor));

    public static string Spelling(this CXType type) => Consume(clang_getTypeSpelling(type));

    /// <summary>Byte offset of the cursor's start in its file.</summary>
    public static int FileOffset(this CXCursor cursor)
    {
        uint offset;
        clang_getSpellingLocation(clang_getCursorLocation(cursor), null, null, null, &offset);
        return (int)offset;
    }

    public static bool IsInMainFile(this CXCursor cursor) => clang_Location_isFromMainFile(clang_getCursorLocation(cursor)) != 0;

    /// <summary>The direct children of <paramref name="parent"/>, in source order.</summary>
    public static List<CXCursor> Children(this CXCursor parent)
    {
        var children = new List<CXCursor>();
        GCHandle handle = GCHandle.Alloc(children);
        try
        {
            clang_visitChildren(parent, &CollectChild, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return children;
    }

    [UnmanagedCallersOnly]
    private static int CollectChild(CXCursor cursor, CXCursor parent, nint clientData)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr(clientData).Target!).Add(cursor);
        return VisitContinue;
    }

    /// <summary>The source tokens a cursor spans (a macro definition: its name, then its replacement).</summary>
    public static List<string> Tokens(nint unit, CXCursor cursor)
    {
        CXToken* tokens;
        uint count;
        clang_tokenize(unit, clang_getCursorExtent(cursor), &tokens, &count);
        try
        {
            var spellings = new List<string>((int)count);
            for (uint i = 0; i < count; i++) spellings.Add(Consume(clang_getTokenSpelling(unit, tokens[i])));
            return spellings;
        }
        finally
        {
            clang_disposeTokens(unit, tokens, count);
        }
    }
}
