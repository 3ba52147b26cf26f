; The Windows installer of the bt-autotask tray app, built with makensis by `cargo xtask package`
; (Tauri's NSIS bundler downloads a plugin at bundle time that no package registry carries, so the
; project keeps its own script, using only NSIS's stock plugins).
;
; Per user, without administrator rights: the app goes to %LOCALAPPDATA%\Programs\bt-autotask,
; with a Start-menu shortcut (carrying the app's AppUserModelID, so its notifications show under
; its own name) and an entry in Settings › Apps. The uninstaller removes the program, the shortcut
; and the start-at-login entry; it keeps the configuration, the store, the logs and the secrets in
; the Windows Credential Manager, so a reinstall picks up where the rep left off.
;
; makensis -DVERSION=0.1.0 -DAPP_EXE=<bt-autotask.exe> -DWEBVIEW2_LOADER=<WebView2Loader.dll> -DICON=<icon.ico>
;          -DIDENTIFIER=<id> -DOUT_FILE=<setup.exe> installer.nsi
; Silent install: bt-autotask_<version>_x64-setup.exe /S   (uninstall: uninstall.exe /S)

!ifndef VERSION | APP_EXE | WEBVIEW2_LOADER | ICON | IDENTIFIER | OUT_FILE
  !error "define VERSION, APP_EXE, WEBVIEW2_LOADER, ICON, IDENTIFIER and OUT_FILE (cargo xtask package does)"
!endif

Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel user
ManifestDPIAware true

!define PRODUCT "bt-autotask"
!define PUBLISHER "bt-autotask contributors"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${PRODUCT}"
; WebView2's Evergreen runtime registers its version here (per machine or per user).
!define WEBVIEW2_KEY "Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
!define WEBVIEW2_BOOTSTRAPPER "https://go.microsoft.com/fwlink/p/?LinkId=2124703"

Name "${PRODUCT}"
OutFile "${OUT_FILE}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "Software\${PRODUCT}" "InstallDir"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "${PUBLISHER}"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "Win\COM.nsh"
!include "Win\Propkey.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\${PRODUCT}.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${PRODUCT} (it waits in the notification area)"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; An upgrade replaces the program file, which Windows keeps locked while the app runs. The app
; hides rather than closes its window, so only a forced stop ends it; the worker's ledger and
; session markers make a stop in the middle of a write safe. Only this user's copy is reached.
!macro StopRunningApp
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /IM ${PRODUCT}.exe'
  Pop $0
  Sleep 500
!macroend

Section "Install"
  SetShellVarContext current
  !insertmacro StopRunningApp
  SetOutPath "$INSTDIR"
  File "/oname=${PRODUCT}.exe" "${APP_EXE}"
  ; A build with mingw loads WebView2 through Microsoft's loader DLL, which must sit beside it.
  File "${WEBVIEW2_LOADER}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  Call CreateShortcut
  Call EnsureWebView2

  WriteRegStr HKCU "Software\${PRODUCT}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${PRODUCT}.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

; The Start-menu shortcut, made through IShellLink so it can carry the AppUserModelID: Windows
; shows a desktop app's notifications only under an id that a Start-menu shortcut registers.
Function CreateShortcut
  !insertmacro ComHlpr_CreateInProcInstance ${CLSID_ShellLink} ${IID_IShellLink} r0 ""
  ${If} $0 P<> 0
    ${IShellLink::SetPath} $0 '("$INSTDIR\${PRODUCT}.exe").r1'
    ${IShellLink::SetWorkingDirectory} $0 '("$INSTDIR")'
    ${IShellLink::SetIconLocation} $0 '("$INSTDIR\${PRODUCT}.exe",0)'
    ${IUnknown::QueryInterface} $0 '("${IID_IPropertyStore}",.r1)'
    ${If} $1 P<> 0
      System::Call 'shlwapi::SHStrDupW(w "${IDENTIFIER}", *p .r4)'
      System::Call '*${SYSSTRUCT_PROPERTYKEY}(${PKEY_AppUserModel_ID})p.r2'
      System::Call '*${SYSSTRUCT_PROPVARIANT}(${VT_LPWSTR},,$4)p.r3'
      ${IPropertyStore::SetValue} $1 '($2,$3)'
      ${IPropertyStore::Commit} $1 ""
      ${IUnknown::Release} $1 ""
      System::Free $2
      System::Free $3
      System::Call 'ole32::CoTaskMemFree(p r4)'
    ${EndIf}
    ${IUnknown::QueryInterface} $0 '("${IID_IPersistFile}",.r1)'
    ${If} $1 P<> 0
      ${IPersistFile::Save} $1 '("$SMPROGRAMS\${PRODUCT}.lnk",1)'
      ${IUnknown::Release} $1 ""
    ${EndIf}
    ${IUnknown::Release} $0 ""
  ${EndIf}
  ${IfNot} ${FileExists} "$SMPROGRAMS\${PRODUCT}.lnk"
    ; Without COM (never seen on Windows 10 and 11), a plain shortcut: the app still starts.
    CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${PRODUCT}.exe"
  ${EndIf}
FunctionEnd

; The window is drawn by Microsoft Edge WebView2, part of Windows 11 and of Windows 10 since its
; 2021 updates. Where it is missing, Microsoft's small bootstrapper installs it (from Microsoft,
; over the network of the machine being installed, with curl.exe, part of Windows 10 1803+).
Function EnsureWebView2
  SetRegView 64
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\${WEBVIEW2_KEY}" "pv"
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "${WEBVIEW2_KEY}" "pv"
  ${EndIf}
  ${If} $0 != ""
  ${AndIf} $0 != "0.0.0.0"
    DetailPrint "Microsoft Edge WebView2 $0 is installed."
    Return
  ${EndIf}
  DetailPrint "Installing Microsoft Edge WebView2, which draws the app's window..."
  StrCpy $1 "$TEMP\MicrosoftEdgeWebview2Setup.exe"
  ${If} ${FileExists} "$SYSDIR\curl.exe"
    nsExec::ExecToLog '"$SYSDIR\curl.exe" -fsSL --max-time 120 -o "$1" "${WEBVIEW2_BOOTSTRAPPER}"'
    Pop $0
    ${If} $0 == 0
      ExecWait '"$1" /silent /install' $0
      Delete "$1"
      ${If} $0 == 0
        DetailPrint "Microsoft Edge WebView2 is installed."
        Return
      ${EndIf}
    ${EndIf}
  ${EndIf}
  DetailPrint "Microsoft Edge WebView2 could not be installed; get the Evergreen runtime from Microsoft's WebView2 page."
  MessageBox MB_OK|MB_ICONEXCLAMATION "${PRODUCT} needs Microsoft Edge WebView2, which could not be installed now.$\n$\nInstall the WebView2 Evergreen Runtime from Microsoft's website, then start ${PRODUCT}." /SD IDOK
FunctionEnd

Section "Uninstall"
  SetShellVarContext current
  !insertmacro StopRunningApp
  Delete "$INSTDIR\${PRODUCT}.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  ; Start at login, as the app's Settings wrote it.
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "${PRODUCT}"
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "${PRODUCT}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\${PRODUCT}"
  DetailPrint "Kept: the configuration and store (%APPDATA%\${PRODUCT}), the logs (%LOCALAPPDATA%\${PRODUCT}) and the secrets in the Windows Credential Manager."
SectionEnd
