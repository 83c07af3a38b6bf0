# The same verbs as build.sh, for PowerShell (Windows or pwsh on Linux/macOS).
#   ./build.ps1            build everything (Release)
#   ./build.ps1 test       build, then run every test suite
#   ./build.ps1 run [ARGS] build, then run the CLI with ARGS (no ARGS: `fusedrnn demo`); only its output on stdout
#   ./build.ps1 pack       pack FusedRnn, FusedRnn.Native and the fusedrnn .NET tool into artifacts/packages/
#   ./build.ps1 bindings   regenerate src/FusedRnn.Native/Interop/*.g.cs from native/include/fusedrnn.h
# The sanitizer runs and the fuzzers of `./build.sh test` need clang and Linux; they are not run from here.
param([string]$Verb = "build", [Parameter(ValueFromRemainingArguments = $true)][string[]]$CliArgs)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Config = if ($env:CONFIG) { $env:CONFIG } else { "Release" }
$Artifacts = Join-Path $PSScriptRoot "artifacts"
$NativeBuild = Join-Path $Artifacts "native/$($Config.ToLower())"

# Build output goes to stderr, as with build.sh: stdout is for what `run` prints.
function Invoke-Checked([string]$File, [string[]]$Arguments) {
    & $File @Arguments 2>&1 | ForEach-Object { [Console]::Error.WriteLine($_) }
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

# Build-Native ON|OFF: the library, with or without its tests and benchmarks (passed on every configure: the build
# folder's cache keeps the last values).
function Build-Native([string]$Tests) {
    if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) { throw "the .NET 10 SDK is required; 'dotnet' is not on PATH" }
    if ((Test-Path native/CMakeLists.txt) -and (Get-Command cmake -ErrorAction SilentlyContinue)) {
        Invoke-Checked cmake @("-S", "native", "-B", $NativeBuild, "-DCMAKE_BUILD_TYPE=$Config",
            "-DFUSEDRNN_BUILD_TESTS=$Tests", "-DFUSEDRNN_BUILD_BENCHMARKS=$Tests")
        Invoke-Checked cmake @("--build", $NativeBuild, "--config", $Config)
    }
}

function Build-All {
    Build-Native "ON"
    Invoke-Checked dotnet @("build", "Interop.sln", "-c", $Config, "-nologo", "-v:q")
}

$CliProject = "src/FusedRnn.Cli/FusedRnn.Cli.csproj"

switch ($Verb) {
    "build" { Build-All }
    "test" {
        Build-All
        if (Test-Path native/CMakeLists.txt) { Invoke-Checked ctest @("--test-dir", $NativeBuild, "--output-on-failure", "-C", $Config) }
        Invoke-Checked dotnet @("test", "Interop.sln", "-c", $Config, "--no-build", "-nologo", "-v:q")
        # The native kernel set is chosen once per process: rerun the cross-backend suites with each lower one forced.
        foreach ($isa in @("avx2", "scalar")) {
            $env:FUSEDRNN_ISA = $isa
            try {
                Invoke-Checked dotnet @("test", "tests/FusedRnn.Tests", "-c", $Config, "--no-build", "-nologo", "-v:q",
                    "--filter", "FullyQualifiedName~ParityTests|FullyQualifiedName~ReferenceTests|FullyQualifiedName~ConcurrencyTests|FullyQualifiedName~NonFiniteTests|FullyQualifiedName~ActivationTests|FullyQualifiedName~CellVariantTests|FullyQualifiedName~StreamingTests")
            } finally { Remove-Item Env:FUSEDRNN_ISA }
        }
    }
    "run" {
        Build-Native "OFF"
        Invoke-Checked dotnet @("build", $CliProject, "-c", $Config, "-nologo", "-v:q")
        if (-not $CliArgs) { $CliArgs = @("demo") }
        & dotnet (@((Join-Path $Artifacts "bin/FusedRnn.Cli/$($Config.ToLower())/fusedrnn.dll")) + $CliArgs)
        exit $LASTEXITCODE
    }
    "pack" {
        # FusedRnn.Native depends on FusedRnn: a feed needs both.
        Build-Native "OFF"
        $Packages = Join-Path $Artifacts "packages"
        New-Item -ItemType Directory -Force $Packages | Out-Null
        Remove-Item (Join-Path $Packages "FusedRnn.*.nupkg"), (Join-Path $Packages "FusedRnn.*.snupkg") -ErrorAction SilentlyContinue
        foreach ($project in @("src/FusedRnn/FusedRnn.csproj", "src/FusedRnn.Native/FusedRnn.Native.csproj", $CliProject)) {
            Invoke-Checked dotnet @("pack", $project, "-c", $Config, "-o", $Packages, "-nologo", "-v:q")
        }
        Get-ChildItem (Join-Path $Packages "*.nupkg") | ForEach-Object { $_.FullName }
    }
    "bindings" { Invoke-Checked dotnet @("run", "--project", "src/FusedRnn.BindGen", "-c", $Config, "--", "--repo", $PSScriptRoot) }
    default { throw "unknown verb '$Verb'; try: build, test, run [ARGS], pack, bindings" }
}
